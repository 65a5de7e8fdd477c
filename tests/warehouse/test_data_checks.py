"""Each data check catches a literal bad row planted in a copy of a good snapshot."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.warehouse import rawdata as rd
from warehouse.data_checks import Check, ChecksFailed, discover_checks, key_checks, run_checks
from warehouse.runner import discover_models
from warehouse.snapshot import publish_snapshot

CHECKS = {check.name: check for check in [*discover_checks(), *key_checks(discover_models())]}

PLANTED = {
    "treatments_results_visible_after_completion": (
        "update mart_treatments set results_visible_at = completed_at - interval 1 day"
    ),
    "treatments_value_non_negative": "update mart_treatments set value = -1",
    "treatments_category_known": "update mart_treatments set category = 'astrology'",
    "treatments_patient_exists": "update mart_treatments set patient_id = 'ghost'",
    "leads_status_in_set": "update mart_leads set status = 'lost' where lead_id = 'L1'",
    "leads_booked_value_non_negative": "update mart_leads set booked_value = -5",
    "leads_outcome_consistent": "update mart_leads set has_outcome = true where status = 'new'",
    "practice_rates_in_unit_interval": "update mart_practice_rates set lead_conversion = 1.5",
    "ask_candidates_contactable": "update mart_patients set do_not_contact = true",
    "ask_candidates_in_window": (
        "update mart_ask_candidates set results_visible_at = timestamptz '2026-12-01 00:00+00'"
    ),
    "ask_candidates_not_recently_asked": (
        "insert into int_asks values ('p1', 'pat1', null, timestamptz '2026-11-20 10:00+00', "
        "'call', 'call', 99, false, false, false, 'no_answer')"
    ),
    "asks_channel_and_source_in_set": (
        "insert into int_asks values ('p1', 'pat2', null, timestamptz '2025-01-01 10:00+00', "
        "'pigeon', 'call', 98, false, false, false, 'no_answer')"
    ),
    "patients_satisfaction_in_range": "update mart_patients set satisfaction_score = 11",
    "patients_practice_exists": "update mart_patients set practice_slug = 'nowhere'",
    "leads_practice_exists": "update mart_leads set practice_slug = 'nowhere' where lead_id = 'L1'",
    "leads_referrer_exists": "update mart_leads set referrer_patient_id = 'ghost'",
    "ask_candidates_treatment_exists": "update mart_ask_candidates set treatment_id = 'ghost'",
    "review_candidates_treatment_exists": (
        "insert into mart_review_candidates (practice_slug, patient_id, treatment_id) "
        "values ('p1', 'pat2', 't1')"
    ),
    "sla_tasks_practice_exists": (
        "insert into mart_sla_tasks (task_id, practice_slug) values (7, 'nowhere')"
    ),
    "capacity_weekly_practice_exists": (
        "insert into mart_capacity_weekly (practice_slug, week_start) "
        "values ('nowhere', timestamptz '2026-11-23 00:00+00')"
    ),
    "capacity_backlog_practice_exists": (
        "insert into mart_capacity_backlog (practice_slug, kind) values ('nowhere', 'ask')"
    ),
    "unique_mart_leads": "insert into mart_leads select * from mart_leads",
    "not_null_mart_practices": (
        "insert into mart_practices (practice_slug, name) values (null, 'Nameless')"
    ),
    "unique_mart_ask_candidates": (
        "insert into mart_ask_candidates select * from mart_ask_candidates"
    ),
}


@pytest.fixture(scope="module")
def good_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A snapshot that passed every check: a candidate, a new and a booked lead."""
    home = tmp_path_factory.mktemp("checks-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LOOPDESK_HOME", str(home))
        mp.setenv("LOOPDESK_NOW", rd.AS_OF.isoformat())
        with rd.raw_store() as conn:
            rd.practice(conn)
            rd.patient(conn, "pat1")
            rd.patient(conn, "pat2")
            rd.treatment(conn, "t1", "pat1")
            rd.referral(conn, "L1", "pat1")
            rd.referral(
                conn, "L2", "pat2", status="booked", status_at=rd.days_ago(2), booked_value=900.0
            )
        yield publish_snapshot(as_of=rd.AS_OF).path


@pytest.fixture
def scratch(good_snapshot: Path, tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writable copy of the good snapshot."""
    copy = tmp_path / "scratch.duckdb"
    shutil.copy(good_snapshot, copy)
    conn = duckdb.connect(str(copy))
    conn.execute("set TimeZone = 'UTC'")
    yield conn
    conn.close()


def test_every_check_passes_on_the_good_snapshot(scratch: duckdb.DuckDBPyConnection) -> None:
    """The fixture itself is clean, so a failure below is caused by the planted row."""
    assert all(run.passed for run in run_checks(scratch, list(CHECKS.values())))


@pytest.mark.parametrize("check_name", sorted(PLANTED))
def test_check_catches_planted_bad_row(
    scratch: duckdb.DuckDBPyConnection, check_name: str
) -> None:
    """After planting a bad row the named check fails and reports it."""
    scratch.execute(PLANTED[check_name])
    with pytest.raises(ChecksFailed) as caught:
        run_checks(scratch, [CHECKS[check_name]])
    [failure] = caught.value.failures
    assert failure.name == check_name
    assert failure.failing_rows >= 1
    assert check_name in str(caught.value)


def test_broken_check_fails_instead_of_passing(scratch: duckdb.DuckDBPyConnection) -> None:
    """A check whose SQL cannot run is a failure, never a silent pass."""
    with pytest.raises(ChecksFailed, match="could not run"):
        run_checks(scratch, [Check(name="typo", sql="select * from no_such_table")])


def test_checks_counted_together_name_each_failure(scratch: duckdb.DuckDBPyConnection) -> None:
    """Several checks are counted in one statement: each failing one is still named with its
    own count, and a broken one among them fails without hiding the others' outcomes."""
    scratch.execute(PLANTED["treatments_value_non_negative"])
    chosen = [CHECKS["treatments_value_non_negative"], CHECKS["leads_status_in_set"]]
    alone = [run_checks(scratch, [check], raise_failures=False)[0] for check in chosen]
    together = run_checks(scratch, chosen, raise_failures=False)
    assert [(r.name, r.failing_rows) for r in together] == [
        (r.name, r.failing_rows) for r in alone
    ]
    assert together[0].failing_rows >= 1 and together[1].passed
    broken = Check(name="typo", sql="select * from no_such_table")
    runs = run_checks(scratch, [*chosen, broken], raise_failures=False)
    assert [(r.name, r.failing_rows) for r in runs] == [
        *[(r.name, r.failing_rows) for r in alone], ("typo", -1)
    ]


def test_a_unique_check_reports_what_the_plain_group_by_reports() -> None:
    """The key check groups by the keys' hash first, then only the rows whose hash repeats by
    the keys: every repeated key (null parts included) is reported with its copies, exactly as
    grouping every row by the keys would, and distinct keys are never reported."""
    from warehouse.data_checks import unique_sql

    conn = duckdb.connect()
    conn.execute("create table m (practice_slug varchar, treatment_id varchar, value integer)")
    conn.execute(
        "insert into m values ('p1', 't1', 1), ('p1', 't1', 2), ('p1', 't2', 3),"
        " ('p2', 't1', 4), ('p2', null, 5), ('p2', null, 6), (null, 't9', 7), (null, 't9', 8),"
        " (null, 't9', 9), ('p3', 't3', 10)"
    )
    cols = "practice_slug, treatment_id"
    plain = f"select {cols}, count(*) as copies from m group by {cols} having count(*) > 1"
    found = sorted(conn.execute(unique_sql("m", cols)).fetchall(), key=str)
    assert found == sorted(conn.execute(plain).fetchall(), key=str)
    assert found == sorted([("p1", "t1", 2), ("p2", None, 2), (None, "t9", 3)], key=str)
    conn.execute("delete from m where value in (2, 6, 8, 9)")
    assert conn.execute(unique_sql("m", cols)).fetchall() == []

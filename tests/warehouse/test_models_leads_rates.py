"""Leads with console events applied, practice rates, review candidates and data quality."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.warehouse import rawdata as rd
from warehouse.snapshot import publish_snapshot, reading_snapshot

LEAD_COLUMNS = (
    "lead_id, source, status, status_at, booked_value, became_patient_id, first_contact_at, "
    "has_outcome, outcome_at, loop_closed_at"
)


def _query(sql: str) -> list[tuple[Any, ...]]:
    with reading_snapshot() as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
def leads_world(loopdesk_home: Path) -> Path:
    """Export leads (one new, one booked) beside the console's captured leads."""
    with rd.raw_store() as conn:
        rd.practice(conn)
        rd.patient(conn, "pat1")
        rd.treatment(conn, "t1", "pat1", value=5000.0, completed_at=rd.days_ago(100))
        rd.referral(conn, "L-new", "pat1", referred_at=rd.days_ago(10))
        rd.referral(
            conn,
            "L-booked",
            "pat1",
            referred_at=rd.days_ago(60),
            status="booked",
            status_at=rd.days_ago(40),
            booked_value=4500.0,
            became_patient_id="pat9",
        )
    return loopdesk_home


def _lead_events() -> dict[str, Any]:
    """Console facts: L-new contacted then booked; C-1 captured on a call; C-dup de-duplicated."""
    console_leads = [
        {
            "practice_slug": "p1",
            "lead_id": "C-1",
            "referrer_patient_id": "pat1",
            "source": "coordinator",
            "referred_at": rd.days_ago(3),
            "status": "new",
        },
        {
            "practice_slug": "p1",
            "lead_id": "C-dup",
            "referrer_patient_id": "pat1",
            "source": "link",
            "referred_at": rd.days_ago(2),
            "status": "new",
            "duplicate_of_lead_id": "L-new",
        },
    ]
    events = [
        {"practice_slug": "p1", "lead_id": "L-new", "event": "contacted", "at": rd.days_ago(9)},
        {
            "practice_slug": "p1",
            "lead_id": "L-new",
            "event": "booked",
            "at": rd.days_ago(5),
            "booked_value": 7000.0,
        },
        {"practice_slug": "p1", "lead_id": "L-new", "event": "loop_closed", "at": rd.days_ago(4)},
    ]
    touches = [
        rd.call_touch(
            1, None, disposition="voicemail", at=rd.days_ago(9.5),
            task_kind="contact_lead", lead_id="L-new", minutes=3.0,
        ),
        rd.call_touch(
            2, None, disposition="voicemail", at=rd.days_ago(2),
            task_kind="contact_lead", lead_id="C-1", minutes=5.0,
        ),
    ]
    return {
        "ops_leads": rd.ops_table("ops_leads", console_leads),
        "ops_lead_events": rd.ops_table("ops_lead_events", events),
        "ops_touches": rd.ops_table("ops_touches", touches),
    }


def test_export_leads_without_console_events(leads_world: Path) -> None:
    """Export facts pass through; a booked export lead's outcome time is its status time."""
    publish_snapshot(as_of=rd.AS_OF)
    rows = {r[0]: r for r in _query(f"select {LEAD_COLUMNS} from mart_leads")}
    assert rows["L-new"] == (
        "L-new", "export", "new", None, None, None, None, False, None, None
    )
    assert rows["L-booked"] == (
        "L-booked", "export", "booked", rd.days_ago(40), 4500.0, "pat9",
        rd.days_ago(40), True, rd.days_ago(40), None,
    )


def test_console_events_apply_to_export_and_captured_leads(leads_world: Path) -> None:
    """Events move L-new to booked; the captured lead joins; the de-duplicated one is dropped."""
    publish_snapshot(as_of=rd.AS_OF, ops_events=_lead_events())
    rows = {r[0]: r for r in _query(f"select {LEAD_COLUMNS} from mart_leads")}
    assert set(rows) == {"L-new", "L-booked", "C-1"}
    assert rows["L-new"] == (
        "L-new", "export", "booked", rd.days_ago(5), 7000.0, None,
        rd.days_ago(9.5), True, rd.days_ago(5), rd.days_ago(4),
    )
    assert rows["C-1"] == (
        "C-1", "coordinator", "new", None, None, None, rd.days_ago(2), False, None, None
    )


def test_a_console_lead_with_an_export_leads_key_gives_way_to_it(leads_world: Path) -> None:
    """The export row wins a shared (practice, lead) key: one row, the export's facts and names."""
    events = _lead_events()
    shared = {
        "practice_slug": "p1",
        "lead_id": "L-booked",
        "referrer_patient_id": "pat1",
        "source": "coordinator",
        "referred_at": rd.days_ago(1),
        "status": "declined",
    }
    events["ops_leads"] = rd.ops_table("ops_leads", [*events["ops_leads"].to_pylist(), shared])
    publish_snapshot(as_of=rd.AS_OF, ops_events=events)
    rows = _query("select lead_id, source, status, lead_first_name is not null from mart_leads")
    assert sorted(rows) == [
        ("C-1", "coordinator", "new", False),
        ("L-booked", "export", "booked", True),
        ("L-new", "export", "booked", True),
    ]


def test_practice_rates(leads_world: Path) -> None:
    """2 of 3 leads booked; pat1 asked 50 d ago then referred → 1/1; medians per kind."""
    events = _lead_events()
    touches = [
        rd.call_touch(1, None, disposition="voicemail", at=rd.days_ago(9.5),
                      task_kind="contact_lead", lead_id="L-new", minutes=3.0),
        rd.call_touch(2, None, disposition="voicemail", at=rd.days_ago(2),
                      task_kind="contact_lead", lead_id="C-1", minutes=5.0),
        rd.call_touch(3, "pat1", disposition="willing_no_name", at=rd.days_ago(50), minutes=8.0),
    ]
    events["ops_touches"] = rd.ops_table("ops_touches", touches)
    publish_snapshot(as_of=rd.AS_OF, ops_events=events)
    [row] = _query(
        "select avg_case_value, leads, converted_leads, lead_conversion, asked_patients, "
        "p_refer_given_asked, p_refer_source, median_minutes_ask, median_minutes_contact_lead, "
        "median_minutes_close_loop from mart_practice_rates"
    )
    assert row == (5000.0, 3, 2, pytest.approx(2 / 3), 1, 1.0, "observed", 8.0, 4.0, None)


def test_practice_rates_without_leads_or_asks(loopdesk_home: Path) -> None:
    """No leads → conversion null (undefined, not 0); no asks → the documented prior."""
    with rd.raw_store() as conn:
        rd.practice(conn)
    publish_snapshot(as_of=rd.AS_OF)
    [row] = _query(
        "select avg_case_value, lead_conversion, p_refer_given_asked, p_refer_source, "
        "median_minutes_ask from mart_practice_rates"
    )
    assert row == (None, None, 0.29, "prior", None)


def test_the_mean_case_value_is_to_the_cent(loopdesk_home: Path) -> None:
    """A mean of doubles is summed in a thread-dependent order; the mart keeps it to the cent
    so its last bits never decide whether the queue's practice facts change (simulator: same
    seed, same numbers)."""
    with rd.raw_store() as conn:
        rd.practice(conn)
        rd.patient(conn, "pat1")
        for n, value in enumerate((1000.0, 1000.0, 1000.01)):
            rd.treatment(conn, f"t{n}", "pat1", value=value, completed_at=rd.days_ago(30 + n))
    publish_snapshot(as_of=rd.AS_OF)
    [(value,)] = _query("select avg_case_value from mart_practice_rates")
    assert value == 1000.0


def test_int_asks_flags(loopdesk_home: Path) -> None:
    """Reached/willing/declined per disposition; a replied ask message is reached."""
    with rd.raw_store() as conn:
        rd.practice(conn)
        rd.patient(conn, "pat1")
    touches = [
        rd.call_touch(1, "pat1", disposition="no_answer", at=rd.days_ago(30)),
        rd.call_touch(
            2, "pat1", disposition="referred", at=rd.days_ago(29), task_kind="follow_up"
        ),
        rd.call_touch(3, "pat1", disposition="declined", at=rd.days_ago(28)),
        rd.call_touch(
            4, "pat1", disposition="referred", at=rd.days_ago(27), task_kind="close_loop"
        ),
    ]
    message = {
        "message_id": 9,
        "practice_slug": "p1",
        "patient_id": "pat1",
        "purpose": "ask",
        "channel": "email",
        "status": "replied",
        "created_at": rd.days_ago(31),
        "sent_at": rd.days_ago(31),
        "replied_at": rd.days_ago(30.5),
    }
    publish_snapshot(
        as_of=rd.AS_OF,
        ops_events={
            "ops_touches": rd.ops_table("ops_touches", touches),
            "ops_messages": rd.ops_table("ops_messages", [message]),
        },
    )
    rows = _query(
        "select source_id, channel, source, reached, willing, declined, disposition "
        "from int_asks order by asked_at"
    )
    assert rows == [
        (9, "email", "message", True, False, False, "replied"),
        (1, "call", "call", False, False, False, "no_answer"),
        (2, "call", "call", True, True, False, "referred"),
        (3, "call", "call", True, False, True, "declined"),
    ]


def test_review_candidates(loopdesk_home: Path) -> None:
    """Satisfaction 9 qualifies; 7 only after a willing disposition; a done request blocks 180 d."""
    with rd.raw_store() as conn:
        rd.practice(conn)
        rd.patient(conn, "happy", satisfaction_score=9)
        rd.patient(conn, "willing", satisfaction_score=7)
        rd.patient(conn, "meh", satisfaction_score=7)
        rd.patient(conn, "reviewed", satisfaction_score=10)
        for patient_id in ("happy", "willing", "meh", "reviewed"):
            rd.treatment(conn, f"t-{patient_id}", patient_id)
    touches = [rd.call_touch(1, "willing", disposition="willing_no_name", at=rd.days_ago(2))]
    tasks = [
        {
            "task_id": 1,
            "kind": "review_request",
            "practice_slug": "p1",
            "patient_id": "reviewed",
            "treatment_id": "t-old",
            "created_at": rd.days_ago(100),
            "status": "done",
            "closed_at": rd.days_ago(90),
        }
    ]
    publish_snapshot(
        as_of=rd.AS_OF,
        ops_events={
            "ops_touches": rd.ops_table("ops_touches", touches),
            "ops_tasks": rd.ops_table("ops_tasks", tasks),
        },
    )
    rows = _query("select patient_id, treatment_id, reason from mart_review_candidates order by 1")
    assert rows == [("happy", "t-happy", "satisfaction"), ("willing", "t-willing", "willing")]


def _quarantine_phones(conn: Any, rows: list[tuple[str, int, int]]) -> None:
    """Quarantined patients.csv lines of practice p1, each (run id, line, days ago)."""
    for run, line, at in rows:
        rd.insert(conn, "quarantine", run_id=run, practice_slug="p1", file="patients.csv",
                  line=line, column="phone", reason="malformed phone", raw_record="x",
                  quarantined_at=rd.days_ago(at))


def test_data_quality_counts_latest_run_and_copies_rows(loopdesk_home: Path) -> None:
    """Quarantine counts come from each file's latest run; rows and feed status are copied."""
    with rd.raw_store() as conn:
        rd.practice(conn)
        _quarantine_phones(conn, [("r1", 3, 9), ("r1", 4, 9), ("r2", 5, 1)])
        rd.insert(
            conn,
            "feed_status",
            practice_slug="p1",
            file="treatments.csv",
            status="paused",
            message="missing column value",
            checked_at=rd.days_ago(1),
        )
    publish_snapshot(as_of=rd.AS_OF)
    rows = _query(
        "select file, quarantined_rows, quarantined_rows_all_runs, feed_status, feed_message "
        "from mart_data_quality order by file"
    )
    assert rows == [
        ("patients.csv", 1, 3, "unknown", None),
        ("treatments.csv", 0, 0, "paused", "missing column value"),
    ]
    assert _query("select count(*), min(column_name) from mart_quarantine") == [(3, "phone")]


@pytest.mark.parametrize("later_first", [True, False])
def test_data_quality_latest_run_of_one_instant_is_independent_of_row_order(
    loopdesk_home: Path, later_first: bool
) -> None:
    """Two runs quarantine rows at the same instant (a pinned clock): the run ordered last by
    (instant, run id) is the latest, whichever run's rows the store holds first (before the fix,
    `arg_max(run_id, quarantined_at)` kept whichever tied row it met first)."""
    low, high = "20261126T150000Z-0000aaaa", "20261126T150000Z-ffff0000"
    runs = [(high, 3), (high, 4), (low, 5)]
    if not later_first:
        runs = runs[2:] + runs[:2]
    with rd.raw_store() as conn:
        rd.practice(conn)
        _quarantine_phones(conn, [(run, line, 2) for run, line in runs])
    publish_snapshot(as_of=rd.AS_OF)
    rows = _query(
        "select quarantined_rows, quarantined_rows_all_runs, last_quarantine_run_id "
        "from mart_data_quality where file = 'patients.csv'"
    )
    assert rows == [(2, 3, high)]


@pytest.mark.parametrize("first_value", [7000.0, 9000.0])
def test_booked_value_of_events_at_one_instant_is_independent_of_row_order(
    leads_world: Path, first_value: float
) -> None:
    """Two 'booked' events at the same instant with different values: the larger one wins,
    whichever row the store holds first (before the fix, the row read last won)."""
    second_value = 16000.0 - first_value
    at = rd.days_ago(5)
    events = [
        {"practice_slug": "p1", "lead_id": "L-new", "event": "booked", "at": at,
         "booked_value": first_value},
        {"practice_slug": "p1", "lead_id": "L-new", "event": "booked", "at": at,
         "booked_value": second_value},
    ]
    publish_snapshot(
        as_of=rd.AS_OF, ops_events={"ops_lead_events": rd.ops_table("ops_lead_events", events)}
    )
    [(value,)] = _query("select booked_value from mart_leads where lead_id = 'L-new'")
    assert value == 9000.0

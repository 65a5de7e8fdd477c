"""Treatments' results-visible derivation and patients' effective contactability."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.warehouse import rawdata as rd
from warehouse.snapshot import publish_snapshot, reading_snapshot


def _rows(sql: str) -> list[tuple[Any, ...]]:
    with reading_snapshot() as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
def world(loopdesk_home: Path) -> Path:
    """One practice, patients with different consent, and treatments with given/derived lags."""
    with rd.raw_store() as conn:
        rd.practice(conn)
        rd.patient(conn, "pat1")
        rd.patient(conn, "pat2", consent_call=False, consent_text=False, consent_email=False)
        rd.patient(conn, "pat3", do_not_contact=True)
        rd.patient(conn, "pat4", phone=None, consent_email=False)
        rd.treatment(conn, "t-derived", "pat1", category="implant", completed_at=rd.days_ago(20))
        rd.treatment(
            conn,
            "t-given",
            "pat1",
            category="whitening",
            completed_at=rd.days_ago(20),
            results_visible_at=rd.days_ago(19.5),
        )
        rd.treatment(
            conn,
            "t-given-bad",
            "pat2",
            category="hair_restoration",
            completed_at=rd.days_ago(200),
            results_visible_at=rd.days_ago(300),
        )
    return loopdesk_home


def test_results_visible_at_is_completion_plus_category_lag(world: Path) -> None:
    """Implant (14 d lag) completed 20 d ago → visible 6 d ago; a given value is kept."""
    publish_snapshot(as_of=rd.AS_OF)
    rows = dict(
        (r[0], (r[1], r[2]))
        for r in _rows(
            "select treatment_id, results_visible_at, results_visible_source from mart_treatments"
        )
    )
    assert rows["t-derived"] == (rd.days_ago(6), "derived")
    assert rows["t-given"] == (rd.days_ago(19.5), "given")


def test_given_results_visible_before_completion_falls_back_to_lag(world: Path) -> None:
    """hair_restoration lags 180 d: completed 200 d ago → visible 20 d ago, not the bad value."""
    publish_snapshot(as_of=rd.AS_OF)
    [(visible, source)] = _rows(
        "select results_visible_at, results_visible_source from mart_treatments "
        "where treatment_id = 't-given-bad'"
    )
    assert visible == rd.days_ago(20)
    assert source == "derived_given_before_completion"


def test_patients_contactability_from_export(world: Path) -> None:
    """No consent, do-not-contact, and email-only-without-phone patients are not contactable."""
    publish_snapshot(as_of=rd.AS_OF)
    rows = dict(_rows("select patient_id, is_contactable from mart_patients"))
    assert rows == {"pat1": True, "pat2": False, "pat3": False, "pat4": False}


def test_opt_out_on_every_channel_is_do_not_contact(world: Path) -> None:
    """Console revocations on call, text and email make the patient do-not-contact."""
    events = [
        {
            "practice_slug": "p1",
            "subject_type": "patient",
            "subject_id": "pat1",
            "channel": channel,
            "granted": False,
            "source": "disposition",
            "at": rd.days_ago(1),
        }
        for channel in ("call", "text", "email")
    ]
    publish_snapshot(
        as_of=rd.AS_OF,
        ops_events={"ops_consent_events": rd.ops_table("ops_consent_events", events)},
    )
    [row] = _rows(
        "select consent_call, consent_text, consent_email, do_not_contact, opted_out, "
        "is_contactable from mart_patients where patient_id = 'pat1'"
    )
    assert row == (False, False, False, True, True, False)


def test_latest_consent_event_per_channel_wins(world: Path) -> None:
    """Text revoked then granted again → text consent; a later call revocation stays revoked."""

    def event(channel: str, granted: bool, days: float) -> dict[str, Any]:
        return {
            "practice_slug": "p1",
            "subject_type": "patient",
            "subject_id": "pat1",
            "channel": channel,
            "granted": granted,
            "source": "reply",
            "at": rd.days_ago(days),
        }

    events = [event("text", False, 5), event("text", True, 2), event("call", False, 1)]
    publish_snapshot(
        as_of=rd.AS_OF,
        ops_events={"ops_consent_events": rd.ops_table("ops_consent_events", events)},
    )
    [row] = _rows(
        "select consent_call, consent_text, consent_email, do_not_contact from mart_patients "
        "where patient_id = 'pat1'"
    )
    assert row == (False, True, True, False)


def test_wrong_number_makes_phone_unusable(world: Path) -> None:
    """A wrong_number call after the export's last update leaves only email to reach pat1."""
    touches = [rd.call_touch(1, "pat1", disposition="wrong_number", at=rd.days_ago(1))]
    publish_snapshot(
        as_of=rd.AS_OF, ops_events={"ops_touches": rd.ops_table("ops_touches", touches)}
    )
    [row] = _rows("select phone_usable, is_contactable from mart_patients where patient_id='pat1'")
    assert row == (False, True)


def test_derived_results_visible_at_adds_whole_days_across_dst_and_leap_days(
    loopdesk_home: Path,
) -> None:
    """The lag is whole 24 h days from the completion instant, to the microsecond, whatever the
    calendar between: across US and EU DST changes, and a leap day."""
    completions = {
        "t-us-dst": ("implant", datetime(2026, 2, 28, 6, 30, 0, 123456, tzinfo=UTC)),
        "t-eu-dst": ("whitening", datetime(2026, 10, 24, 23, 59, 59, 999999, tzinfo=UTC)),
        "t-leap": ("hair_restoration", datetime(2023, 12, 31, 12, 0, tzinfo=UTC)),
        "t-eu-spring": ("laser_skin", datetime(2026, 3, 29, 0, 30, tzinfo=UTC)),
    }
    with rd.raw_store() as conn:
        rd.practice(conn)
        rd.patient(conn, "pat1")
        for treatment_id, (category, completed_at) in completions.items():
            rd.treatment(conn, treatment_id, "pat1", category=category, completed_at=completed_at)
    publish_snapshot(as_of=rd.AS_OF)
    rows = dict(_rows("select treatment_id, results_visible_at from mart_treatments"))
    lag_days = {"implant": 14, "whitening": 2, "hair_restoration": 180, "laser_skin": 30}
    for treatment_id, (category, completed_at) in completions.items():
        expected = completed_at + timedelta(days=lag_days[category])
        assert rows[treatment_id] == expected, treatment_id

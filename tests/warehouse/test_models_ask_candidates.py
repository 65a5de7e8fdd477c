"""mart_ask_candidates follows DOMAIN.md's ask trigger at the build's as_of."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from tests.warehouse import rawdata as rd
from warehouse.snapshot import publish_snapshot, reading_snapshot


def _candidates(ops_events: dict[str, Any] | None = None) -> dict[str, str]:
    """Build and return {patient_id: treatment_id} of the ask candidates."""
    publish_snapshot(as_of=rd.AS_OF, ops_events=ops_events)
    with reading_snapshot() as conn:
        rows = conn.execute("select patient_id, treatment_id from mart_ask_candidates").fetchall()
    return dict(rows)


def _touches(*touches: dict[str, Any]) -> dict[str, Any]:
    return {"ops_touches": rd.ops_table("ops_touches", list(touches))}


@pytest.fixture
def one_candidate(loopdesk_home: Path) -> Path:
    """pat1 with an implant whose results became visible 6 days ago: a candidate by default."""
    with rd.raw_store() as conn:
        rd.practice(conn)
        rd.patient(conn, "pat1", satisfaction_score=9)
        rd.treatment(conn, "t1", "pat1")
    return loopdesk_home


def test_fresh_visible_result_is_a_candidate_with_its_facts(one_candidate: Path) -> None:
    """The candidate row carries category, value, visibility, satisfaction and consent."""
    publish_snapshot(as_of=rd.AS_OF)
    with reading_snapshot() as conn:
        [row] = conn.execute(
            "select practice_slug, patient_id, treatment_id, category, treatment_value, "
            "results_visible_at, satisfaction_score, consent_call, consent_text, consent_email "
            "from mart_ask_candidates"
        ).fetchall()
    assert row == ("p1", "pat1", "t1", "implant", 4000.0, rd.days_ago(6), 9, True, True, True)


def test_opt_out_removes_the_candidate(one_candidate: Path) -> None:
    """An opted_out disposition revokes every channel: no ask."""
    events = [
        {
            "practice_slug": "p1",
            "subject_type": "patient",
            "subject_id": "pat1",
            "channel": channel,
            "granted": False,
            "source": "opted_out",
            "at": rd.days_ago(1),
        }
        for channel in ("call", "text", "email")
    ]
    assert _candidates({"ops_consent_events": rd.ops_table("ops_consent_events", events)}) == {}


def test_asked_100_days_ago_is_not_a_candidate(one_candidate: Path) -> None:
    """Asked about an older treatment 100 d ago: inside the 180 d cooldown."""
    touch = rd.call_touch(1, "pat1", disposition="no_answer", at=rd.days_ago(100))
    assert _candidates(_touches(touch)) == {}


def test_asked_200_days_ago_is_a_candidate_again(one_candidate: Path) -> None:
    """Asked 200 d ago (no decline): the 180 d cooldown is over."""
    touch = rd.call_touch(1, "pat1", disposition="no_answer", at=rd.days_ago(200))
    assert _candidates(_touches(touch)) == {"pat1": "t1"}


def test_declined_200_days_ago_is_not_a_candidate(one_candidate: Path) -> None:
    """Declined 200 d ago: inside the 365 d no-ask period."""
    touch = rd.call_touch(1, "pat1", disposition="declined", at=rd.days_ago(200))
    assert _candidates(_touches(touch)) == {}


def test_declined_400_days_ago_is_a_candidate_again(one_candidate: Path) -> None:
    """Declined 400 d ago: the 365 d period is over."""
    touch = rd.call_touch(1, "pat1", disposition="declined", at=rd.days_ago(400))
    assert _candidates(_touches(touch)) == {"pat1": "t1"}


def test_sent_ask_message_counts_as_asked(one_candidate: Path) -> None:
    """An automated ask sent 3 d ago is an ask: the patient is no longer a candidate."""
    message = {
        "message_id": 1,
        "practice_slug": "p1",
        "patient_id": "pat1",
        "purpose": "ask",
        "channel": "sms",
        "status": "sent",
        "created_at": rd.days_ago(3),
        "sent_at": rd.days_ago(3),
    }
    assert _candidates({"ops_messages": rd.ops_table("ops_messages", [message])}) == {}


def test_queued_message_is_not_an_ask(one_candidate: Path) -> None:
    """A message still queued has not asked anyone."""
    message = {
        "message_id": 1,
        "practice_slug": "p1",
        "patient_id": "pat1",
        "purpose": "ask",
        "channel": "sms",
        "status": "queued",
        "created_at": rd.days_ago(1),
    }
    assert _candidates({"ops_messages": rd.ops_table("ops_messages", [message])}) == {"pat1": "t1"}


@pytest.mark.parametrize(
    ("completed_days_ago", "expected"),
    [
        (14 + 30, {"pat1": "t1"}),  # visible exactly 30 d ago: inclusive edge of the window
        (14 + 31, {}),  # visible 31 d ago: too old
        (10, {}),  # visible in 4 days: not yet
        (14, {"pat1": "t1"}),  # visible exactly now
    ],
)
def test_results_visible_window(
    loopdesk_home: Path, completed_days_ago: int, expected: dict[str, str]
) -> None:
    """Only results visible at or before as_of and within the last 30 days qualify."""
    with rd.raw_store() as conn:
        rd.practice(conn)
        rd.patient(conn, "pat1")
        rd.treatment(conn, "t1", "pat1", completed_at=rd.days_ago(completed_days_ago))
    assert _candidates() == expected


@pytest.mark.parametrize(
    "patient_overrides",
    [
        {"consent_call": False, "consent_text": False, "consent_email": False},
        {"do_not_contact": True},
        {"phone": None, "email": None},
    ],
)
def test_uncontactable_patients_are_not_candidates(
    loopdesk_home: Path, patient_overrides: dict[str, Any]
) -> None:
    """No consent, do-not-contact, or no address on any consented channel: no ask."""
    with rd.raw_store() as conn:
        rd.practice(conn)
        rd.patient(conn, "pat1", **patient_overrides)
        rd.treatment(conn, "t1", "pat1")
    assert _candidates() == {}


def test_one_candidate_per_patient_earliest_visible(loopdesk_home: Path) -> None:
    """Two eligible treatments of one patient: one ask, about the earliest visible one."""
    with rd.raw_store() as conn:
        rd.practice(conn)
        rd.patient(conn, "pat1")
        rd.treatment(conn, "t-late", "pat1", completed_at=rd.days_ago(15), value=9000.0)
        rd.treatment(conn, "t-early", "pat1", completed_at=rd.days_ago(25))
    assert _candidates() == {"pat1": "t-early"}


def test_asked_about_this_treatment_on_a_follow_up_task(one_candidate: Path) -> None:
    """A follow_up call linked (through its task) to this treatment counts as asked."""
    task = {
        "task_id": 7,
        "kind": "follow_up",
        "practice_slug": "p1",
        "patient_id": "pat1",
        "treatment_id": "t1",
        "created_at": rd.days_ago(2),
        "status": "done",
    }
    touch = rd.call_touch(
        1, "pat1", disposition="callback_requested", at=rd.days_ago(1), task_id=7, task_kind=None
    )
    events = {"ops_tasks": rd.ops_table("ops_tasks", [task]), **_touches(touch)}
    assert _candidates(events) == {}
    with reading_snapshot() as conn:
        [ask] = conn.execute(
            "select treatment_id, channel, source, reached, willing, declined from int_asks"
        ).fetchall()
    assert ask == ("t1", "call", "call", True, False, False)


@pytest.mark.parametrize(
    ("windows", "asked", "reviewed"),
    [
        ({"review_window_days": 45}, {}, {"pat1": "t1"}),
        ({"ask_window_days": 45}, {"pat1": "t1"}, {}),
        ({}, {}, {}),
    ],
)
def test_each_mart_sees_its_own_window_when_the_windows_differ(
    loopdesk_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    windows: dict[str, int],
    asked: dict[str, str],
    reviewed: dict[str, str],
) -> None:
    """int_candidate_treatments keeps the treatments of the wider of the ask and review windows
    (it filters before its join): results visible 40 d ago reach whichever mart has a 45 d window,
    and neither with the 30 d defaults."""
    from warehouse import snapshot

    monkeypatch.setattr(snapshot, "BuildParams", functools.partial(snapshot.BuildParams, **windows))
    with rd.raw_store() as conn:
        rd.practice(conn)
        rd.patient(conn, "pat1", satisfaction_score=9)
        rd.treatment(conn, "t1", "pat1", completed_at=rd.days_ago(14 + 40))
    assert _candidates() == asked
    with reading_snapshot() as conn:
        rows = conn.execute(
            "select patient_id, treatment_id from mart_review_candidates"
        ).fetchall()
    assert dict(rows) == reviewed

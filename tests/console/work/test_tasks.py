"""Task refresh: every kind's trigger and close, idempotence, no resurrection, SLA deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from console.models.practice import PracticeSettings
from console.models.work import Task, Touch
from console.work.refresh import refresh_tasks
from tests.factories import (
    NOW,
    ask_row,
    lead_row,
    patient_row,
    practice_row,
    rates_row,
    session_for,
    snapshot,
    sqlite_engine,
)


def _marts(**overrides: Any) -> dict[str, Any]:
    marts: dict[str, Any] = {
        "mart_practices": [practice_row()],
        "mart_practice_rates": [rates_row()],
        "mart_patients": [patient_row(p) for p in ("p1", "p2", "p3", "p4")],
        "mart_ask_candidates": [ask_row("p1", "t1")],
        "mart_leads": [
            lead_row("l1", "p2"),
            lead_row("l2", "p3", status="booked", status_at=NOW - timedelta(hours=3),
                     has_outcome=True, outcome_at=NOW - timedelta(hours=3),
                     first_contact_at=NOW - timedelta(days=1), booked_value=9000.0),
        ],
        "mart_review_candidates": [
            {"practice_slug": "smile-ny", "patient_id": "p4", "treatment_id": "t4",
             "results_visible_at": NOW - timedelta(days=3), "satisfaction_score": 10.0},
        ],
    }
    return marts | overrides


def _tasks(session: Session) -> dict[str, Task]:
    return {t.natural_key: t for t in session.exec(select(Task)).all()}


def test_refresh_creates_every_kind_and_seeds_practices(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        result = refresh_tasks(session=session, snapshot=snapshot(**_marts()), now=NOW)
        tasks = _tasks(session)
        assert set(tasks) == {
            "ask:smile-ny:t1", "contact_lead:smile-ny:l1", "close_loop:smile-ny:l2",
            "review_request:smile-ny:p4:t4",
        }
        assert (result.created, result.closed, result.open) == (4, 0, 4)
        ask = tasks["ask:smile-ny:t1"]
        assert ask.sla_deadline == NOW - timedelta(days=2) + timedelta(days=7)
        assert ask.subject_id == "p1" and ask.practice_tz == "America/New_York"
        lead = tasks["contact_lead:smile-ny:l1"]
        # Referred Thursday 09:00 local: one business day later is Friday 09:00 EST.
        assert lead.sla_deadline == datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
        loop = tasks["close_loop:smile-ny:l2"]
        assert loop.subject_id == "p3" and loop.lead_id == "l2"
        practice = session.get(PracticeSettings, "smile-ny")
        assert practice is not None and practice.avg_case_value == 6000.0


def test_refresh_twice_gives_the_identical_task_set(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        refresh_tasks(session=session, snapshot=snapshot(**_marts()), now=NOW)
        first = {(t.task_id, t.natural_key, t.status) for t in _tasks(session).values()}
        again = refresh_tasks(session=session, snapshot=snapshot(**_marts()), now=NOW)
        second = {(t.task_id, t.natural_key, t.status) for t in _tasks(session).values()}
        assert first == second
        assert (again.created, again.closed, again.open) == (0, 0, 4)


def test_new_tasks_are_numbered_in_natural_key_order_whatever_the_marts_order(
        loopdesk_home: Path) -> None:
    """Task ids are the queue's last tie-break: the same marts in another row order give
    the same ids (the simulator's same seed, same numbers)."""
    asks = [ask_row(p, f"t-{p}") for p in ("p4", "p1", "p3", "p2")]
    patients = [patient_row(p) for p in ("p1", "p2", "p3", "p4")]
    ids = []
    for n, order in enumerate((asks, list(reversed(asks)))):
        home = loopdesk_home / f"order-{n}"
        home.mkdir()
        with session_for(sqlite_engine(home)) as session:
            refresh_tasks(session=session, snapshot=snapshot(**_marts(
                mart_ask_candidates=order, mart_patients=patients, mart_leads=[],
                mart_review_candidates=[])), now=NOW)
            ids.append({t.natural_key: t.task_id for t in _tasks(session).values()})
    assert ids[0] == ids[1]
    assert sorted(ids[0], key=ids[0].__getitem__) == sorted(ids[0])


def test_closed_tasks_are_never_resurrected(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        refresh_tasks(session=session, snapshot=snapshot(**_marts()), now=NOW)
        ask = _tasks(session)["ask:smile-ny:t1"]
        ask.status, ask.closed_at = "done", NOW
        session.add(ask)
        session.commit()
        result = refresh_tasks(session=session, snapshot=snapshot(**_marts()), now=NOW)
        assert result.created == 0
        assert _tasks(session)["ask:smile-ny:t1"].status == "done"


def test_tasks_close_when_their_reason_disappears(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        refresh_tasks(session=session, snapshot=snapshot(**_marts()), now=NOW)
        changed = _marts(
            mart_patients=[patient_row("p1", do_not_contact=True),
                           *[patient_row(p) for p in ("p2", "p3", "p4")]],
            mart_leads=[lead_row("l1", "p2", status="booked", first_contact_at=NOW),
                        lead_row("l2", "p3", status="booked", has_outcome=True,
                                 status_at=NOW - timedelta(hours=3),
                                 loop_closed_at=NOW - timedelta(hours=1))],
            mart_review_candidates=[],
        )
        result = refresh_tasks(session=session, snapshot=snapshot(**changed), now=NOW)
        tasks = _tasks(session)
        assert tasks["ask:smile-ny:t1"].close_reason == "not_contactable"
        assert tasks["contact_lead:smile-ny:l1"].status == "cancelled"
        assert tasks["close_loop:smile-ny:l2"].status == "cancelled"
        assert tasks["review_request:smile-ny:p4:t4"].status == "cancelled"
        # l1 booked: its referrer p2 is now owed a loop closure.
        assert tasks["close_loop:smile-ny:l1"].status == "open"
        assert (result.created, result.closed, result.open) == (1, 4, 1)


def test_recent_decline_and_future_results_create_no_ask(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        session.add(Touch(practice_slug="smile-ny", subject_type="patient", subject_id="p1",
                          disposition="declined", minutes=4,
                          started_at=NOW - timedelta(days=200)))
        session.commit()
        marts = _marts(mart_ask_candidates=[
            ask_row("p1", "t1"),
            ask_row("p2", "t2", results_visible_at=NOW + timedelta(days=3)),
            ask_row("p3", "t3", consent_call=False),
        ])
        refresh_tasks(session=session, snapshot=snapshot(**marts), now=NOW)
        asks = {k for k in _tasks(session) if k.startswith("ask:")}
        assert asks == {"ask:smile-ny:t3"}


def test_one_open_ask_per_patient_at_a_time(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        marts = _marts(mart_ask_candidates=[ask_row("p1", "t1", treatment_value=800.0),
                                            ask_row("p1", "t9", treatment_value=20000.0)])
        refresh_tasks(session=session, snapshot=snapshot(**marts), now=NOW)
        asks = {k for k in _tasks(session) if k.startswith("ask:")}
        assert asks == {"ask:smile-ny:t9"}


def test_a_de_duplicated_console_lead_gets_no_task_from_refresh(loopdesk_home: Path) -> None:
    """create_lead gives a duplicate no task; a rebuild must not open one for it either."""
    from console.work.leads import LeadInput, create_lead

    with session_for(sqlite_engine(loopdesk_home)) as session:
        marts = _marts(mart_leads=[])
        refresh_tasks(session=session, snapshot=snapshot(**marts), now=NOW)
        practice = session.get(PracticeSettings, "smile-ny")
        assert practice is not None
        friend = LeadInput("Ana", phone="+1 212 555 0143")
        first, task = create_lead(session=session, practice=practice, referrer_patient_id="p1",
                                  lead=friend, source="coordinator", now=NOW)
        again, none = create_lead(session=session, practice=practice, referrer_patient_id="p1",
                                  lead=friend, source="coordinator", now=NOW + timedelta(hours=1))
        session.commit()
        assert task is not None and none is None and again.duplicate_of_lead_id == first.lead_id
        refresh_tasks(session=session, snapshot=snapshot(**marts), now=NOW + timedelta(hours=2))
        leads = sorted(key for key in _tasks(session) if key.startswith("contact_lead:"))
        assert leads == [f"contact_lead:smile-ny:{first.lead_id}"]

"""Refresh opens lead-driven tasks only inside their history windows (boundary days)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlmodel import select

from console.models.work import Task
from console.work.refresh import refresh_tasks
from console.work.sources import HISTORY_WINDOWS, HistoryWindows
from tests.factories import (
    NOW,
    lead_row,
    patient_row,
    practice_row,
    rates_row,
    session_for,
    snapshot,
    sqlite_engine,
)

SECOND = timedelta(seconds=1)
LEAD_WINDOW = timedelta(days=HISTORY_WINDOWS.lead_days)
LOOP_WINDOW = timedelta(days=HISTORY_WINDOWS.close_loop_days)


def _outcome(lead_id: str, referrer: str, at: Any) -> dict[str, Any]:
    """An export lead that booked at `at` and whose referrer was never told."""
    return lead_row(lead_id, referrer, referred_at=at - timedelta(days=5), status="booked",
                    status_at=at, has_outcome=True, outcome_at=at,
                    first_contact_at=at - timedelta(days=4), booked_value=9000.0)


def _marts(leads: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "mart_practices": [practice_row()], "mart_practice_rates": [rates_row()],
        "mart_patients": [patient_row(p) for p in ("p1", "p2", "p3", "p4")],
        "mart_leads": leads,
    }


def _keys(home: Path, leads: list[dict[str, Any]], **kwargs: Any) -> set[str]:
    with session_for(sqlite_engine(home)) as session:
        refresh_tasks(session=session, snapshot=snapshot(**_marts(leads)), now=NOW, **kwargs)
        return {t.natural_key for t in session.exec(select(Task)) if t.status == "open"}


def test_the_default_windows_are_thirty_days() -> None:
    assert (HISTORY_WINDOWS.lead_days, HISTORY_WINDOWS.close_loop_days) == (30, 30)


def test_a_new_lead_is_contacted_up_to_exactly_the_window(loopdesk_home: Path) -> None:
    leads = [
        lead_row("edge", "p1", referred_at=NOW - LEAD_WINDOW, status_at=NOW - LEAD_WINDOW),
        lead_row("old", "p2", referred_at=NOW - LEAD_WINDOW - SECOND,
                 status_at=NOW - LEAD_WINDOW - SECOND),
        lead_row("ancient", "p3", referred_at=NOW - timedelta(days=700),
                 status_at=NOW - timedelta(days=700)),
    ]
    assert _keys(loopdesk_home, leads) == {"contact_lead:smile-ny:edge"}


def test_a_loop_is_opened_up_to_exactly_the_window_from_the_outcome(loopdesk_home: Path) -> None:
    leads = [
        _outcome("edge", "p1", NOW - LOOP_WINDOW),
        _outcome("old", "p2", NOW - LOOP_WINDOW - SECOND),
        _outcome("ancient", "p3", NOW - timedelta(days=700)),
    ]
    assert _keys(loopdesk_home, leads) == {"close_loop:smile-ny:edge"}


def test_windows_are_configurable(loopdesk_home: Path) -> None:
    leads = [_outcome("week", "p1", NOW - timedelta(days=7)),
             lead_row("lead", "p2", referred_at=NOW - timedelta(days=3))]
    narrow = HistoryWindows(lead_days=2, close_loop_days=6)
    assert _keys(loopdesk_home, leads, windows=narrow) == set()


def test_an_open_task_stays_open_after_its_trigger_leaves_the_window(
    loopdesk_home: Path,
) -> None:
    leads = [_outcome("l1", "p1", NOW - timedelta(days=1))]
    with session_for(sqlite_engine(loopdesk_home)) as session:
        refresh_tasks(session=session, snapshot=snapshot(**_marts(leads)), now=NOW)
        later = NOW + LOOP_WINDOW + timedelta(days=5)
        result = refresh_tasks(session=session, snapshot=snapshot(**_marts(leads)), now=later)
        task = session.exec(select(Task)).one()
        assert (task.natural_key, task.status) == ("close_loop:smile-ny:l1", "open")
        assert result.closed == 0 and task.sla_deadline < later  # shown as breached

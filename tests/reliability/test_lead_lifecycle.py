"""Property: any sequence of lead dispositions and rebuilds keeps every lead either open with a
task, reached, or unreachable (or with another outcome) with a close-loop task — never silently
dropped (DOMAIN.md: contact_lead closes when the lead is reached, or after 4 attempts).

A rebuild here is the task refresh over a snapshot whose mart_leads row is derived from the
operational store the way the warehouse derives it (int_leads_outcomes.sql: the first contact
*attempt*, the first *answered* call, the console status). Fails on the code before issue 10:
the first no_answer followed by a rebuild cancelled the contact task (lead dropped), and a
wrong number closed it with the lead left `new` and the referrer never told.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from console.models.identity import AuditEvent, User
from console.models.practice import PracticeSettings
from console.models.work import Lead, LeadEvent, Task, TaskStatus, Touch
from console.platform.db import get_engine, init_db, new_session
from console.work.dispositions import log_disposition
from console.work.leads import LeadInput, create_lead
from console.work.refresh import refresh_tasks
from tests.factories import (
    NOW,
    acting,
    add_practice,
    add_user,
    lead_row,
    patient_row,
    practice_row,
    rates_row,
    snapshot,
)
from tests.worlds import TEST_SECRET

EXAMPLES = 200 if os.environ.get("CI") == "true" else 60
LEAD_CALLS = ("no_answer", "voicemail", "wrong_number", "callback_requested", "lead_booked",
              "lead_declined", "lead_unreachable")
STEPS = st.lists(st.sampled_from((*LEAD_CALLS, "rebuild", "rebuild")), min_size=1, max_size=9)
UNANSWERED = ("no_answer", "voicemail", "wrong_number")
OUTCOMES = ("booked", "treated", "declined", "unreachable")
ACTIVE = (TaskStatus.open, TaskStatus.claimed)
SLUG = "lifecycle"
REFERRER = "R1"


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    """One store for every example (cleared between them): migrations run once."""
    with tempfile.TemporaryDirectory() as home, pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOOPDESK_HOME", home)
        patch.setenv("LOOPDESK_SECRET_KEY", TEST_SECRET)
        patch.setenv("LOOPDESK_NOW", NOW.isoformat())
        patch.delenv("LOOPDESK_DATABASE_URL", raising=False)
        store = get_engine(f"sqlite:///{Path(home) / 'lifecycle.db'}")
        init_db(store)
        with new_session(store) as session:
            add_practice(session, SLUG)
            add_user(session, "coord@agency.test", practices=[SLUG])
        yield store


def _mart_lead(session: Session, lead: Lead) -> dict[str, Any]:
    """The lead's mart_leads row as a build would compute it from the store."""
    touches = session.exec(select(Touch).where(Touch.lead_id == lead.lead_id)).all()
    attempts = [t.started_at for t in touches if t.task_kind == "contact_lead"]
    reached = [t.started_at for t in touches if t.task_kind == "contact_lead"
               and t.disposition not in UNANSWERED]
    return lead_row(
        lead.lead_id, REFERRER, slug=SLUG, source="coordinator", lead_phone=lead.phone,
        referred_at=lead.referred_at, status=lead.status, status_at=lead.status_at,
        first_contact_at=min(attempts, default=None), first_reached_at=min(reached, default=None),
        has_outcome=lead.status in OUTCOMES,
        outcome_at=lead.status_at if lead.status in OUTCOMES else None,
    )


def _rebuild(session: Session, now: datetime) -> None:
    leads = session.exec(select(Lead)).all()
    marts = snapshot(
        mart_practices=[practice_row(SLUG)], mart_practice_rates=[rates_row(SLUG)],
        mart_patients=[patient_row(REFERRER, slug=SLUG)],
        mart_leads=[_mart_lead(session, lead) for lead in leads],
    )
    refresh_tasks(session=session, snapshot=marts, now=now)


def _active_task(session: Session, lead_id: str) -> Task | None:
    return session.exec(
        select(Task).where(Task.lead_id == lead_id)
        .where(col(Task.kind).in_(("contact_lead", "follow_up")))
        .where(col(Task.status).in_(ACTIVE))
        .order_by(col(Task.task_id))
    ).first()


def _hold(session: Session, task: Task, user: User, now: datetime) -> int:
    """The coordinator holds the task (as a claim would), returning the claim version."""
    version = task.claim_version + 1
    session.execute(update(Task).where(col(Task.task_id) == task.task_id).values(
        status=TaskStatus.claimed, claimed_by=user.user_id, claim_version=version,
        lease_expires_at=now + timedelta(minutes=15)))
    session.commit()
    return version


def _call(session: Session, lead_id: str, disposition: str, now: datetime) -> None:
    task = _active_task(session, lead_id)
    if task is None or task.task_id is None:
        return  # the lead's calls are over; further dispositions have nothing to act on
    user = session.exec(select(User).where(User.email == "coord@agency.test")).one()
    version = _hold(session, task, user, now)
    log_disposition(
        session=session, user=acting(session, user), task_id=task.task_id,
        claim_version=version,
        disposition=disposition, minutes=2, notes="", lead=None, now=now,
        callback_at=now + timedelta(days=1) if disposition == "callback_requested" else None,
    )


def _verdict(session: Session, lead_id: str) -> str:
    """'open', 'reached' or the outcome; raises if the lead was silently dropped."""
    lead = session.exec(select(Lead).where(Lead.lead_id == lead_id)).one()
    session.refresh(lead)
    active = _active_task(session, lead_id)
    if lead.status == "new":
        assert active is not None, "a new lead has no open contact task (silently dropped)"
        return "open"
    if lead.status == "contacted":
        return "reached"
    assert lead.status in OUTCOMES, lead.status
    loop = session.exec(select(Task).where(Task.lead_id == lead_id)
                        .where(Task.kind == "close_loop")).first()
    assert loop is not None and loop.status != TaskStatus.cancelled, \
        f"lead {lead.status} but the referrer is owed no close_loop task"
    return lead.status


def _clear(session: Session) -> None:
    for table in (Touch, LeadEvent, Task, Lead, AuditEvent):
        session.execute(delete(table))
    session.commit()


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@pytest.mark.slow
@given(steps=STEPS)
def test_no_sequence_of_calls_and_rebuilds_drops_a_lead(engine: Engine, steps: list[str]) -> None:
    with new_session(engine) as session:
        _clear(session)
        practice = session.get(PracticeSettings, SLUG)
        assert practice is not None
        now = NOW
        lead, task = create_lead(session=session, practice=practice, referrer_patient_id=REFERRER,
                                 lead=LeadInput(first_name="Robin", phone="(312) 555-0142"),
                                 source="coordinator", now=now)
        session.commit()
        assert task is not None
        attempts = 0
        for step in steps:
            now += timedelta(days=1, minutes=7)
            if step == "rebuild":
                _rebuild(session, now)
            else:
                attempts += step in UNANSWERED
                _call(session, lead.lead_id, step, now)
            verdict = _verdict(session, lead.lead_id)
        # The fourth unanswered attempt on the contact task always ends in `unreachable`.
        if steps.count("no_answer") + steps.count("voicemail") >= 4 and not any(
            s in steps for s in ("callback_requested", "lead_booked", "lead_declined",
                                 "lead_unreachable", "wrong_number")
        ):
            assert verdict == "unreachable"

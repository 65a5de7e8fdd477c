"""Audited dispositions and the loop-closure thank-you on the real PostgreSQL (CI: never skip)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, select

import console.models.registry  # noqa: F401  (registers every table)
from console.identity.audit import Action, verify_chain
from console.models.identity import AuditEvent
from console.models.outreach import Message
from console.platform.db import new_session
from console.work.claims import claim_next
from console.work.dispositions import log_disposition
from console.work.loop_closure import Referrer
from tests.factories import NOW, add_practice, add_task, add_worker
from tests.postgres import fresh_database

ANN = Referrer(first_name="Ann", email="ann@example.test", phone=None, consent_email=True,
               consent_text=False, do_not_contact=False, lead_status="booked")

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_engine(loopdesk_home: object) -> Iterator[Engine]:
    """An engine on a fresh database, dropped afterwards."""
    with fresh_database("loopdesk_disp") as url:
        engine = create_engine(url)
        try:
            SQLModel.metadata.create_all(engine)
            yield engine
        finally:
            engine.dispose()


def test_loop_closed_is_audited_once_and_thanks_once(pg_engine: Engine) -> None:
    with new_session(pg_engine) as session:
        practice = add_practice(session)
        user = add_worker(session, practices=["smile-ny"])
        for day in (0, 1):  # two loop tasks about the same lead, a day apart (fatigue cap)
            task = add_task(session, practice, kind="close_loop", subject_id="p1",
                            lead_id="l1", referrer_patient_id="p1")
            when = NOW + timedelta(days=day)
            claimed = claim_next(session=session, user=user, now=when)
            assert claimed is not None and claimed.task_id == task.task_id
            log_disposition(session=session, user=user, task_id=task.task_id or 0,
                            claim_version=claimed.claim_version, disposition="loop_closed",
                            minutes=2, notes="", callback_at=None, lead=None, now=when,
                            send_thank_you=True, referrer_lookup=lambda *_: ANN)
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "disposition")).all()
        assert [e.outcome for e in events] == ["loop_closed", "loop_closed"]
        assert {e.action for e in session.exec(select(AuditEvent))} <= {
            str(Action.disposition), str(Action.claim)}
        assert verify_chain(session=session) is None
        [message] = session.exec(select(Message)).all()
        assert (message.channel, message.idempotency_key) == ("email", "loop_close:smile-ny:l1")

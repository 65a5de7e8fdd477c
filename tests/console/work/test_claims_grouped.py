"""SQLite claims share write transactions (db.grouped_write): each lease is still its own
conditional UPDATE with its own audit event; a failed member loses no other lease."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from console.contact.gate import call_bounds
from console.identity.audit import verify_chain
from console.models.identity import AuditEvent
from console.models.work import Task
from console.platform import db
from console.work.claims import _Candidate, _lease_audited
from tests.factories import NOW, add_practice, add_task, add_worker, session_for, sqlite_engine

LEASE = timedelta(minutes=15)


def test_grouped_leases_with_a_failing_member_keep_the_others(loopdesk_home: Path) -> None:
    engine = sqlite_engine(loopdesk_home)
    with session_for(engine) as session:
        practice = add_practice(session)
        tasks = [add_task(session, practice, case_value=1000 - i) for i in range(3)]
        users = [add_worker(session, practices=["smile-ny"]) for _ in range(3)]
        bounds = call_bounds(practice, NOW)
        # Every claimer offers the same two best tasks: the second lease finds the first
        # taken inside the shared transaction and takes the other.
        offered = [_Candidate(t.task_id or 0, t.claim_version, bounds) for t in tasks[:2]]

        def lease(user: Any) -> Any:
            def work(target: Session) -> Any:
                return _lease_audited(target, user=user, candidates=offered, escalated=False,
                                      now=NOW, lease=LEASE)
            return work

        def broken(target: Session) -> None:
            lease(users[2])(target)  # leases (nothing left) and then fails
            raise RuntimeError("member failed")

        group = getattr(engine, db._GROUP_ATTRIBUTE)
        units = [db._Unit(lease(users[0])), db._Unit(broken), db._Unit(lease(users[1]))]
        group.queue = list(units)
        db._lead(session, group)
        assert units[0].result.task_id == tasks[0].task_id
        assert isinstance(units[1].error, RuntimeError)
        assert units[2].result.task_id == tasks[1].task_id
        session.expire_all()
        held = {t.task_id: t.claimed_by for t in session.exec(select(Task)).all()}
        assert held == {tasks[0].task_id: users[0].user_id, tasks[1].task_id: users[1].user_id,
                        tasks[2].task_id: None}
        events = session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all()
        assert [(e.actor, e.object_ref) for e in events] == [
            (f"user:{users[0].user_id}", f"task:{tasks[0].task_id}"),
            (f"user:{users[1].user_id}", f"task:{tasks[1].task_id}")]
        assert verify_chain(session=session) is None

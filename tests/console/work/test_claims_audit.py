"""Claims, releases and snoozes are audited in the service layer (SECURITY 21), ids only."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from console.identity.audit import verify_chain
from console.models.identity import AuditEvent
from console.work.claims import StaleClaim, claim_next, release, snooze
from tests.factories import NOW, add_practice, add_task, add_worker, session_for, sqlite_engine


def _events(session: object) -> list[tuple[str, str, str | None, str | None, str]]:
    rows = session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all()  # type: ignore[attr-defined]
    return [(e.actor, e.action, e.practice_slug, e.object_ref, e.outcome) for e in rows]


def test_claim_release_and_snooze_each_append_one_event(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        task = add_task(session, practice)
        user = add_worker(session, practices=["smile-ny"])
        actor, ref = f"user:{user.user_id}", f"task:{task.task_id}"
        claimed = claim_next(session=session, user=user, now=NOW)
        assert claimed is not None
        release(session=session, user=user, task_id=task.task_id or 0, claim_version=1, now=NOW)
        claim_next(session=session, user=user, now=NOW)
        snooze(session=session, user=user, task_id=task.task_id or 0, claim_version=2,
               until=NOW + timedelta(hours=1), now=NOW)
        assert _events(session) == [
            (actor, "claim", "smile-ny", ref, "success"),
            (actor, "release", "smile-ny", ref, "success"),
            (actor, "claim", "smile-ny", ref, "success"),
            (actor, "snooze", "smile-ny", ref, "success"),
        ]
        assert verify_chain(session=session) is None


def test_refused_release_is_audited_as_denied(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        task = add_task(session, practice)
        user = add_worker(session, practices=["smile-ny"])
        claim_next(session=session, user=user, now=NOW)
        with pytest.raises(StaleClaim):
            release(session=session, user=user, task_id=task.task_id or 0, claim_version=9,
                    now=NOW)
        assert _events(session)[-1] == (f"user:{user.user_id}", "release", "smile-ny",
                                        f"task:{task.task_id}", "denied")


def test_nothing_to_claim_appends_nothing(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        add_practice(session)
        user = add_worker(session, practices=["smile-ny"])
        assert claim_next(session=session, user=user, now=NOW) is None
        assert _events(session) == []


def test_appends_after_a_stale_remembered_head_still_chain(loopdesk_home: Path) -> None:
    """An append links its row after the head this process sealed last, guarded in its
    INSERT; another engine (another process) appending meanwhile, or a rolled-back append,
    makes the guard fail and the append reads the stored head: the chain stays intact."""
    from sqlalchemy import create_engine

    from console.identity.audit import Action, Outcome, record
    from console.platform.db import begin_write

    first = sqlite_engine(loopdesk_home)
    other = create_engine(str(first.url))  # a second process's engine on the same file

    def append(engine: object, ref: str, *, commit: bool = True) -> None:
        with session_for(engine) as session:  # type: ignore[arg-type]
            begin_write(session)
            record(session=session, actor="user:1", action=Action.claim, practice_slug="a",
                   object_ref=ref, outcome=Outcome.success, now=NOW)
            if commit:
                session.commit()
            else:
                session.rollback()

    try:
        append(first, "task:1")
        append(first, "task:2")  # after the remembered head
        append(other, "task:3")
        append(first, "task:4")  # the remembered head is stale: read and sealed after task:3
        append(first, "task:5", commit=False)  # remembered, then rolled back
        append(first, "task:6")
        with session_for(first) as session:
            rows = session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all()
            assert [(e.seq, e.object_ref) for e in rows] == [
                (1, "task:1"), (2, "task:2"), (3, "task:3"), (4, "task:4"), (5, "task:6")]
            assert verify_chain(session=session) is None
    finally:
        other.dispose()

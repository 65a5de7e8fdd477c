"""Two reruns on SQLite: a session whose read was overtaken by another commit still resolves.

On SQLite (WAL) a transaction that has read cannot be upgraded to a write once another
connection has committed after its read began: the write fails at once with "database is
locked", whatever the busy timeout. Every rerun resolves the session and writes last-seen, so
the router must start that work with the writer lock, not upgrade a stale read.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlmodel import select

from console.identity.audit import Action, Outcome, count_events, record, verify_chain
from console.identity.auth import resolve_session, start_session
from console.models.identity import User
from console.platform.db import get_engine, init_db, new_session
from tests.console.access_helpers import NOW, cheap_argon2, make_user

__all__ = ["cheap_argon2"]


def test_resolve_session_after_another_connection_committed(
    loopdesk_home: Path, cheap_argon2: None
) -> None:
    engine = get_engine()
    init_db(engine)
    setup = new_session(engine)
    user = make_user(setup, "ana@agency.test", practices=("alpha",))
    token = start_session(session=setup, user=user, now=NOW)
    setup.close()

    rerun = new_session(engine)
    other = new_session(engine)
    try:
        # This rerun has read (a read transaction is open) when another rerun commits a write.
        rerun.exec(select(User)).all()
        other.execute(text("update users set email = email"))
        other.commit()
        resolved = resolve_session(session=rerun, token=token, now=NOW)
    finally:
        rerun.close()
        other.close()

    assert resolved is not None and resolved.email == "ana@agency.test"


def test_audit_append_after_another_connection_committed(
    loopdesk_home: Path, cheap_argon2: None
) -> None:
    """A card view audited after a read that another commit overtook is recorded."""
    engine = get_engine()
    init_db(engine)
    viewer = new_session(engine)
    other = new_session(engine)
    try:
        viewer.exec(select(User)).all()
        other.execute(text("update users set email = email"))
        other.commit()
        record(session=viewer, actor="user:1", action=Action.view_patient,
               practice_slug="alpha", object_ref="task:1", outcome=Outcome.success, now=NOW)
        viewer.commit()
        assert count_events(session=viewer) == 1
        assert verify_chain(session=viewer) is None
    finally:
        viewer.close()
        other.close()


def test_audit_append_keeps_pending_writes_in_the_same_transaction(
    loopdesk_home: Path, cheap_argon2: None
) -> None:
    """Taking the lock never commits the caller's work early: a rollback undoes both."""
    engine = get_engine()
    init_db(engine)
    session = new_session(engine)
    try:
        make_user(session, "ana@agency.test")
        user = session.exec(select(User)).one()
        user.active = False
        session.add(user)
        record(session=session, actor="cli", action=Action.role_change, practice_slug=None,
               object_ref=f"user:{user.user_id}", outcome=Outcome.success, now=NOW)
        session.rollback()
        assert count_events(session=session) == 0
        assert session.exec(select(User)).one().active is True
    finally:
        session.close()

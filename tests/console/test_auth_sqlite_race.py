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

from console.auth import resolve_session, start_session
from console.db import get_engine, init_db, new_session
from console.models.identity import User
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

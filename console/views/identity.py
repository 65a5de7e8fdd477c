"""Logging in and out from the console, resolving the session, and which pages each role sees."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlmodel import Session

from console.identity.access import CurrentUser
from console.identity.auth import authenticate, end_session, resolve_session, start_session
from console.platform.db import get_engine, init_db, new_session, retrying

# Engines whose tables this process has already checked (URLs only, no user data).
_READY: set[str] = set()


@contextmanager
def store() -> Iterator[Session]:
    """A session on the operational store (tables checked once per process), closed afterwards."""
    engine = get_engine()
    url = str(engine.url)
    if url not in _READY:
        init_db(engine)
        _READY.add(url)
    session = new_session(engine)
    try:
        yield session
    finally:
        session.close()


def log_in(*, email: str, password: str, client_key: str, now: datetime) -> str:
    """A session token for these credentials; LoginFailed / LoginLocked otherwise."""
    with store() as session:
        user = authenticate(
            session=session, email=email, password=password, client_key=client_key, now=now
        )
        return retrying(session, lambda: start_session(session=session, user=user, now=now))


def who_is(*, token: str | None, now: datetime) -> CurrentUser | None:
    """The user behind a session token, re-read from the store now; None when not logged in."""
    if not token:
        return None
    with store() as session:
        return retrying(session, lambda: resolve_session(session=session, token=token, now=now))


def log_out(*, token: str, now: datetime) -> None:
    """End the session the token names."""
    with store() as session:
        retrying(session, lambda: end_session(session=session, token=token, now=now))

"""A rerun within a minute of the last one reads the session without writing; later ones move
the idle clock on (so idle expiry still counts from the last click, to the minute)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from console.identity.auth import resolve_session, start_session
from console.models.identity import UserSession
from tests.console.access_helpers import NOW, cheap_argon2, make_user, store

__all__ = ["cheap_argon2", "store"]


def _last_seen(store: Session) -> object:
    store.expire_all()
    return store.exec(select(UserSession)).one().last_seen_at


def test_last_seen_moves_at_most_once_a_minute_and_idle_still_expires(store: Session) -> None:
    user = make_user(store, "ana@agency.test")
    token = start_session(session=store, user=user, now=NOW)
    first = _last_seen(store)
    assert resolve_session(session=store, token=token, now=NOW + timedelta(seconds=30))
    assert _last_seen(store) == first  # no write for a click 30 s later
    assert resolve_session(session=store, token=token, now=NOW + timedelta(minutes=2))
    moved = _last_seen(store)
    assert moved != first
    # Idle time counts from the last recorded click: 29 min after it is fine, 31 min is not.
    assert resolve_session(session=store, token=token, now=NOW + timedelta(minutes=31))
    assert resolve_session(session=store, token=token,
                           now=NOW + timedelta(minutes=31 + 31)) is None

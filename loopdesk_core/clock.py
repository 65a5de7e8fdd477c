"""The one clock: every command, page and generator asks it for "now"."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from loopdesk_core.settings import get_settings

_PINNED: ContextVar[datetime | None] = ContextVar("loopdesk_pinned_now", default=None)


@contextmanager
def pinned(at: datetime) -> Iterator[None]:
    """Inside the block (this thread / task only) `now()` is `at`: the simulator's clock."""
    token = _PINNED.set(at.astimezone(UTC))
    try:
        yield
    finally:
        _PINNED.reset(token)


def now() -> datetime:
    """The current instant, timezone-aware UTC; `pinned`, then `LOOPDESK_NOW` override it."""
    pinned_at = _PINNED.get()
    if pinned_at is not None:
        return pinned_at
    override = get_settings().now
    if override is not None:
        return override.astimezone(UTC)
    return datetime.now(UTC)


def wall_now() -> datetime:
    """The real instant, even when `LOOPDESK_NOW` pins `now()`: for checks against another
    system's clock, such as the timestamp an SMS provider signs its webhook with."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """The same instant as aware UTC; naive values (as SQLite returns them) are taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)

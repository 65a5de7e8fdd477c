"""The one clock: every command, page and generator asks it for "now"."""

from __future__ import annotations

from datetime import UTC, datetime

from console.settings import get_settings


def now() -> datetime:
    """The current instant, timezone-aware UTC; `LOOPDESK_NOW` overrides it."""
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

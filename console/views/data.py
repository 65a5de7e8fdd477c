"""Small formatting helpers the views share (the snapshot is read by `warehouse` functions)."""

from __future__ import annotations

from datetime import datetime

from console.platform.wording import countdown_text


def rate_text(value: float | None) -> str:
    """A rate as a percentage, or "—" when it is undefined (empty denominator)."""
    return "—" if value is None else f"{100 * value:.0f}%"


def money_text(value: float | None) -> str:
    """US dollars without cents, or "—"."""
    return "—" if value is None else f"${value:,.0f}"


def hours_text(value: float | None) -> str:
    """Hours with one decimal, or "—"."""
    return "—" if value is None else f"{value:.1f} h"


def countdown(deadline: datetime, now: datetime) -> str:
    """How long until a deadline ("in 4 h", "in 2 days"), or how long ago it was breached
    ("breached just now", "breached 3 h ago")."""
    return countdown_text(deadline - now)

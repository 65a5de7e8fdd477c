"""The published warehouse snapshot as pages read it, and small formatting helpers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from console.platform.wording import countdown_text


def records(
    conn: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]
) -> list[dict[str, Any]]:
    """A small query result as column-name dicts."""
    result = conn.execute(sql, params)
    names = [column[0] for column in result.description or []]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


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

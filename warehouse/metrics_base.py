"""Shared pieces of the metric read side: reporting periods, scope checks and rates."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import duckdb

from loopdesk_core.clock import now as clock_now
from warehouse.scope import Scope

TASK_KINDS: tuple[str, ...] = ("ask", "follow_up", "contact_lead", "close_loop", "review_request")


class UnknownPractice(LookupError):
    """The practice does not exist or lies outside the acting scope (the two look the same)."""

    def __init__(self, practice_slug: str) -> None:
        super().__init__(f"unknown practice {practice_slug!r} (or not in your scope)")
        self.practice_slug = practice_slug


@dataclass(frozen=True)
class Period:
    """A reporting period of whole UTC days, both ends inclusive."""

    date_from: date
    date_to: date

    def __post_init__(self) -> None:
        if self.date_from > self.date_to:
            raise ValueError(f"period starts {self.date_from} after it ends {self.date_to}")

    @property
    def start(self) -> datetime:
        """The first instant of the period (00:00 UTC of date_from)."""
        return datetime.combine(self.date_from, time(0), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the period (00:00 UTC of the day after date_to)."""
        return datetime.combine(self.date_to + timedelta(days=1), time(0), tzinfo=UTC)

    def as_dict(self) -> dict[str, str]:
        """The period as JSON-friendly ISO dates."""
        return {"from": self.date_from.isoformat(), "to": self.date_to.isoformat()}


@dataclass(frozen=True)
class PracticeRow:
    """The practice attributes the metrics need."""

    practice_slug: str
    name: str
    contracted_hours_per_week: float
    onboarded_at: datetime | None


def snapshot_as_of(conn: duckdb.DuckDBPyConnection) -> datetime:
    """The instant the snapshot was built for (`build_params.as_of`), else the clock's now."""
    try:
        row = conn.execute("select as_of from build_params limit 1").fetchone()
    except duckdb.CatalogException:
        row = None
    if row is None or row[0] is None:
        return clock_now()
    return _utc(row[0])


def default_period(as_of: datetime) -> Period:
    """The last 12 full calendar months (UTC) before the month of `as_of`."""
    as_of_day = as_of.astimezone(UTC).date()
    last = as_of_day.replace(day=1) - timedelta(days=1)
    months = last.year * 12 + (last.month - 1) - 11
    first_year, first_month = divmod(months, 12)
    return Period(date(first_year, first_month + 1, 1), last)


def resolve_period(as_of: datetime, date_from: date | None, date_to: date | None) -> Period:
    """The requested period; a missing end is as_of's day, a missing start a year before it."""
    if date_from is None and date_to is None:
        return default_period(as_of)
    end = date_to if date_to is not None else as_of.astimezone(UTC).date()
    start = date_from if date_from is not None else _one_year_before(end)
    return Period(start, end)


def _one_year_before(day: date) -> date:
    """The day after the same date a year earlier (a 12-month span ending on `day`)."""
    year = day.year - 1
    last_day = calendar.monthrange(year, day.month)[1]
    return date(year, day.month, min(day.day, last_day)) + timedelta(days=1)


def _utc(value: datetime) -> datetime:
    """An aware datetime in UTC (naive values are taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def visible_practices(
    conn: duckdb.DuckDBPyConnection, *, scope: Scope, practice_slug: str | None = None
) -> list[PracticeRow]:
    """Practices in the snapshot the scope may read; one named practice raises if not visible."""
    if practice_slug is not None and not scope.allows(practice_slug):
        raise UnknownPractice(practice_slug)
    rows = conn.execute(
        """
        select practice_slug, name, contracted_hours_per_week, onboarded_at
        from mart_practices
        where $slug is null or practice_slug = $slug
        order by practice_slug
        """,
        {"slug": practice_slug},
    ).fetchall()
    found = [
        PracticeRow(
            practice_slug=str(slug),
            name=str(name),
            contracted_hours_per_week=float(hours or 0.0),
            onboarded_at=_utc(onboarded) if onboarded is not None else None,
        )
        for slug, name, hours, onboarded in rows
        if scope.allows(str(slug))
    ]
    if practice_slug is not None and not found:
        raise UnknownPractice(practice_slug)
    return found


def rate(numerator: float, denominator: float) -> dict[str, Any]:
    """A rate with its counts; the value is None (undefined) when the denominator is empty."""
    value = numerator / denominator if denominator else None
    return {"value": value, "numerator": numerator, "denominator": denominator}

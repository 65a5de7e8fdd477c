"""Vectorised business-hours arithmetic for the demo history (polars twins of business_hours).

`business_days_after` gives exactly what `loopdesk_core.business_hours.add_business_days` gives,
row by row, and `into_hours` moves an instant to a moment when a call of a given length fits
inside the practice's opening hours. Both work on one practice's frame (its zone is a literal).
"""

from __future__ import annotations

import polars as pl

from loopdesk_core.business_hours import PracticeHours, days_to_open_day

MINUTE_US = 60_000_000
DAY_US = 24 * 60 * MINUTE_US
# Snapped calls start within this many minutes of opening, so mornings are not all 09:00 sharp.
OPENING_SPREAD_MINUTES = 120.0


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _open_days(practice: PracticeHours) -> set[int]:
    return {int(day) for day in practice.business_days}


def _local(column: str, tz: str) -> pl.Expr:
    return pl.col(column).dt.convert_time_zone(tz).dt.replace_time_zone(None)


def _back_to_utc(local: pl.Expr, tz: str) -> pl.Expr:
    # Opening hours never fall in a DST gap or overlap in real zones; "earliest" is a safe pick.
    return (
        local.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
    )


def _lookup(weekday: pl.Expr, table: dict[int, int]) -> pl.Expr:
    return weekday.replace_strict(table, return_dtype=pl.Int64)


def into_hours(column: str, practice: PracticeHours, *, minutes: pl.Expr,
               spread: pl.Expr) -> pl.Expr:
    """The instant in `column` if a call of `minutes` fits then, else the next opening + spread.

    `spread` is a 0–1 draw placing a moved call within the first hours after opening.
    """
    tz = practice.timezone
    opens, closes = _minutes(practice.business_hours_start), _minutes(practice.business_hours_end)
    local = _local(column, tz)
    of_day = (local - local.dt.truncate("1d")).dt.total_microseconds() / MINUTE_US
    weekday = local.dt.weekday()
    open_day = weekday.is_in(sorted(_open_days(practice)))
    latest = closes - minutes
    room = (latest - opens).clip(0.0, OPENING_SPREAD_MINUTES)
    start_of_day = local.dt.truncate("1d")
    at_opening = pl.duration(
        microseconds=((opens + spread * room) * MINUTE_US).cast(pl.Int64)
    )
    next_day = pl.duration(days=_lookup(weekday, days_to_open_day(practice.business_days, 1)))
    moved = (
        pl.when(open_day & (of_day >= opens) & (of_day <= latest)).then(local)
        .when(open_day & (of_day < opens)).then(start_of_day + at_opening)
        .otherwise(start_of_day + next_day + at_opening)
    )
    return _back_to_utc(moved, tz)


def business_days_after(column: str, practice: PracticeHours, days: int) -> pl.Expr:
    """`add_business_days(start, days, practice)` for every row (same wall-clock time)."""
    tz = practice.timezone
    opens, closes = _minutes(practice.business_hours_start), _minutes(practice.business_hours_end)
    local = _local(column, tz)
    of_day = (local - local.dt.truncate("1d")).dt.total_microseconds() / MINUTE_US
    weekday = local.dt.weekday()
    open_day = weekday.is_in(sorted(_open_days(practice)))
    start_of_day = local.dt.truncate("1d")
    opening = pl.duration(minutes=opens)
    next_day = pl.duration(days=_lookup(weekday, days_to_open_day(practice.business_days, 1)))
    begin = (
        pl.when(open_day & (of_day >= opens) & (of_day < closes)).then(local)
        .when(open_day & (of_day < opens)).then(start_of_day + opening)
        .otherwise(start_of_day + next_day + opening)
    )
    if days <= 0:
        return _back_to_utc(begin, tz)
    shifted = begin + pl.duration(days=_lookup(begin.dt.weekday(),
                                               days_to_open_day(practice.business_days, days)))
    return _back_to_utc(shifted, tz)

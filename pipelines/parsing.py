"""Vectorised parsers for export values: booleans, timestamps, numbers, phones and emails.

Each function takes and returns polars expressions over string columns; a value that is
present but cannot be parsed becomes null, so callers flag `raw is not null and parsed is
null` as invalid.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import polars as pl

TRUE_WORDS = ("true", "yes", "y", "1")
FALSE_WORDS = ("false", "no", "n", "0")

# date, optional [T ]HH:MM, optional :SS(.fraction), optional Z / ±HH[:MM] offset
_TIMESTAMP_PATTERN = (
    r"^(\d{4}-\d{2}-\d{2})(?:[Tt ](\d{2}:\d{2})(:\d{2}(?:\.\d{1,9})?)?)?"
    r"\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?$"
)
_MAX_OFFSET_MINUTES = 14 * 60
_EMAIL_PATTERN = r"^[^@\s,;<>]+@[^@\s,;<>]+\.[a-z]{2,}$"


def parse_bool(raw: pl.Expr) -> pl.Expr:
    """true/false/yes/no/y/n/1/0 in any case; anything else (or blank) is null."""
    word = raw.str.strip_chars().str.to_lowercase()
    return (
        pl.when(word.is_in(TRUE_WORDS))
        .then(pl.lit(True))
        .when(word.is_in(FALSE_WORDS))
        .then(pl.lit(False))
        .otherwise(pl.lit(None, dtype=pl.Boolean))
    )


def parse_float(raw: pl.Expr) -> pl.Expr:
    """A finite decimal number; blanks, words, NaN and infinities are null."""
    number = raw.str.strip_chars().cast(pl.Float64, strict=False)
    return pl.when(number.is_finite()).then(number).otherwise(pl.lit(None, dtype=pl.Float64))


def parse_int(raw: pl.Expr) -> pl.Expr:
    """A whole number written without a fraction; anything else is null."""
    return raw.str.strip_chars().cast(pl.Int64, strict=False)


def local_to_utc(naive: pl.Expr, timezone: pl.Expr, zones: Iterable[str]) -> pl.Expr:
    """Read naive wall-clock times in each row's IANA zone and return UTC instants.

    Ambiguous times (the repeated hour when clocks go back) take the earlier instant; times
    in the skipped hour (clocks go forward) are read as the instant one hour later.
    """
    branches: list[pl.Expr] = []
    for zone in sorted(set(zones)):
        localised = naive.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
        shifted = (naive + timedelta(hours=1)).dt.replace_time_zone(
            zone, ambiguous="earliest", non_existent="null"
        )
        branches.append(
            pl.when(timezone == zone).then(
                pl.coalesce(localised, shifted).dt.convert_time_zone("UTC")
            )
        )
    if not branches:
        return pl.lit(None, dtype=pl.Datetime("us", "UTC"))
    return pl.coalesce(branches)


def parse_timestamp(raw: pl.Expr, timezone: pl.Expr, zones: Iterable[str]) -> pl.Expr:
    """ISO 8601 date or date-time, with or without offset, as a UTC instant.

    Without an offset the value is wall-clock time in the row's `timezone`; a bare date is
    midnight there. Impossible dates, bad offsets and other text give null.
    """
    parts = raw.str.strip_chars().str.extract_groups(_TIMESTAMP_PATTERN)
    date_part = parts.struct.field("1")
    clock = pl.coalesce(parts.struct.field("2"), pl.lit("00:00"))
    seconds = pl.coalesce(parts.struct.field("3"), pl.lit(":00"))
    naive = pl.concat_str(date_part, pl.lit(" "), clock, seconds).str.to_datetime(
        "%Y-%m-%d %H:%M:%S%.f", time_unit="us", strict=False
    )
    offset = parts.struct.field("4")
    digits = offset.str.replace_all(":", "")
    sign = pl.when(digits.str.starts_with("-")).then(-1).otherwise(1)
    hours = digits.str.slice(1, 2).cast(pl.Int64, strict=False)
    minutes = pl.coalesce(digits.str.slice(3, 2).cast(pl.Int64, strict=False), pl.lit(0))
    offset_minutes = (
        pl.when(offset.str.to_uppercase() == "Z")
        .then(pl.lit(0, dtype=pl.Int64))
        .otherwise(sign * (hours * 60 + minutes))
    )
    with_offset = (naive - pl.duration(minutes=offset_minutes)).dt.replace_time_zone("UTC")
    return (
        pl.when(offset.is_null())
        .then(local_to_utc(naive, timezone, zones))
        .when(offset_minutes.abs() <= _MAX_OFFSET_MINUTES)
        .then(with_offset)
        .otherwise(pl.lit(None, dtype=pl.Datetime("us", "UTC")))
    )


def normalise_phone(raw: pl.Expr) -> pl.Expr:
    """A phone number in E.164 (US default region), or null when it cannot be one.

    Ten digits whose area code and exchange start 2-9 become +1...; eleven digits starting
    with 1 likewise; a number written with a leading '+' keeps its 8-15 digits.
    """
    text = raw.str.strip_chars()
    digits = text.str.replace_all(r"\D", "")
    length = digits.str.len_chars()
    national = pl.when(length == 11).then(digits.str.slice(1)).otherwise(digits)
    nanp_ok = national.str.contains(r"^[2-9]\d{2}[2-9]\d{6}$")
    return (
        pl.when(text.str.starts_with("+") & length.is_between(8, 15))
        .then(pl.concat_str(pl.lit("+"), digits))
        .when((length == 10) & nanp_ok)
        .then(pl.concat_str(pl.lit("+1"), digits))
        .when((length == 11) & digits.str.starts_with("1") & nanp_ok)
        .then(pl.concat_str(pl.lit("+"), digits))
        .otherwise(pl.lit(None, dtype=pl.String))
    )


def normalise_email(raw: pl.Expr) -> pl.Expr:
    """A lower-cased email address, or null when it does not look like one."""
    email = raw.str.strip_chars().str.to_lowercase()
    return pl.when(email.str.contains(_EMAIL_PATTERN)).then(email).otherwise(pl.lit(None))

"""Vectorised parsers for export values: booleans, timestamps, numbers, phones and emails.

Each function takes and returns polars expressions over string columns; a value that is
present but cannot be parsed becomes null, so callers flag `raw is not null and parsed is
null` as invalid.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
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
        # Masking rows of other zones first keeps each branch cheap.
        mine = pl.when(timezone == zone).then(naive)
        localised = mine.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
        shifted = (mine + timedelta(hours=1)).dt.replace_time_zone(
            zone, ambiguous="earliest", non_existent="null"
        )
        branches.append(pl.coalesce(localised, shifted).dt.convert_time_zone("UTC"))
    if not branches:
        return pl.lit(None, dtype=pl.Datetime("us", "UTC"))
    return pl.coalesce(branches)


# Fixed shapes most exports use, by length once a 'T' separator is a space: padding that
# makes each one "%Y-%m-%d %H:%M:%S" (the Z of the 20-character shape is stripped first).
_FAST_PADDING: dict[int, str] = {10: " 00:00:00", 16: ":00", 19: "", 20: ""}
_FAST_ZULU_LENGTH = 20


def add_timestamps(
    frame: pl.DataFrame, columns: Iterable[str], timezone: str, zones: Iterable[str]
) -> pl.DataFrame:
    """Add `_p_<column>`: each ISO 8601 text column as a UTC instant (null when unreadable).

    A value without an offset is wall-clock time in the row's `timezone` column; a bare
    date is midnight there. The common fixed shapes take an exact-format fast path (after a
    cheap match of the full pattern); only the other values go through the regex groups.
    Work is staged in columns so each step runs once per value.
    """
    names = list(columns)
    zones = sorted(set(zones))
    # Stage 1: values of the full pattern, 'T' separator as a space (only the separator can
    # be the first 'T' of such a value); the rest are null here and read the general way.
    staged = frame.with_columns(
        [
            pl.when(pl.col(c).str.strip_chars().str.contains(_TIMESTAMP_PATTERN))
            .then(pl.col(c).str.strip_chars().str.replace("T", " ", literal=True))
            .alias(f"_k_{c}")
            for c in names
        ]
    )
    # Stage 2: the fixed shapes padded to one exact format (date, minutes, seconds, or
    # seconds + Z), parsed once.
    staged = staged.with_columns(
        [
            pl.col(f"_k_{c}")
            .str.len_bytes()
            .replace_strict(_FAST_PADDING, default=None, return_dtype=pl.String)
            .alias(f"_x_{c}")
            for c in names
        ]
    ).with_columns(
        [
            pl.concat_str(
                pl.when(pl.col(f"_x_{c}").is_not_null()).then(
                    pl.col(f"_k_{c}").str.strip_suffix("Z")
                ),
                pl.col(f"_x_{c}"),
            )
            .str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us", strict=False)
            .alias(f"_n_{c}")
            for c in names
        ]
    )
    zulu = {c: pl.col(f"_k_{c}").str.len_bytes() == _FAST_ZULU_LENGTH for c in names}
    staged = staged.with_columns(
        [pl.when(~zulu[c]).then(pl.col(f"_n_{c}")).alias(f"_w_{c}") for c in names]
    )
    local = _localised_by_zone(staged, [f"_w_{c}" for c in names], timezone, zones)
    staged = staged.with_columns(
        [
            pl.when(zulu[c])
            .then(pl.col(f"_n_{c}").dt.replace_time_zone("UTC"))
            .otherwise(local[f"_w_{c}"])
            .alias(f"_f_{c}")
            for c in names
        ]
    )
    # The rest (fractions, offsets, lower-case 't', odd spacing) go the general way, and only
    # the rows holding one are read so (the regex and every zone's rules would otherwise run
    # over the whole frame for the few leftovers).
    leftovers = staged.with_columns(
        [pl.when(pl.col(f"_f_{c}").is_null()).then(pl.col(c)).alias(f"_r_{c}") for c in names]
    )
    rest = _nulls(leftovers.height, [f"_r_{c}" for c in names])
    _on_rows(
        leftovers,
        pl.any_horizontal([pl.col(f"_r_{c}").is_not_null() for c in names]),
        [*rest, timezone],
        lambda part: _general_timestamps(part, list(rest), timezone, zones),
        into=rest,
    )
    return leftovers.with_columns(
        [pl.coalesce(pl.col(f"_f_{c}"), rest[f"_r_{c}"]).alias(f"_p_{c}") for c in names]
    ).drop([f"_{k}_{c}" for c in names for k in "kxnwfr"])


_UTC_INSTANT = pl.Datetime("us", "UTC")


def _nulls(height: int, columns: list[str]) -> dict[str, pl.Series]:
    return {c: pl.repeat(None, height, dtype=_UTC_INSTANT, eager=True).alias(c) for c in columns}


def _on_rows(
    frame: pl.DataFrame,
    rows: pl.Expr,
    needs: list[str],
    parse: Callable[[pl.DataFrame], pl.DataFrame],
    *,
    into: dict[str, pl.Series],
) -> None:
    """Run `parse` on the `rows` of `frame` only (its `needs` columns) and scatter the UTC
    instants it puts in `_p_<column>` into `into[column]` at those rows."""
    index = frame.select(pl.arg_where(rows)).to_series()
    if index.len():
        part = parse(frame.select(needs)[index])
        for c in into:
            into[c] = into[c].scatter(index, part[f"_p_{c}"])


def _localised_by_zone(
    frame: pl.DataFrame, columns: list[str], timezone: str, zones: list[str]
) -> dict[str, pl.Series]:
    """`local_to_utc` of each naive column, a zone's rows at a time: each value is read in its
    own zone only, instead of every zone's rules running over every row (masked); rows of no
    zone in `zones` stay null, as there."""
    out = _nulls(frame.height, columns)
    for zone in zones:
        _on_rows(
            frame,
            pl.col(timezone) == zone,
            columns,
            functools.partial(_in_zone, columns=columns, zone=zone),
            into=out,
        )
    return out


def _in_zone(rows: pl.DataFrame, *, columns: list[str], zone: str) -> pl.DataFrame:
    """`_p_<column>`: each naive column of rows all in `zone`, as UTC instants."""
    return rows.select(
        [local_to_utc(pl.col(c), pl.lit(zone), [zone]).alias(f"_p_{c}") for c in columns]
    )


def _general_timestamps(
    frame: pl.DataFrame, names: list[str], timezone: str, zones: list[str]
) -> pl.DataFrame:
    """Add `_p_<column>` for any ISO 8601 shape, staged so the regex runs once per value."""
    parts = frame.with_columns(
        [
            pl.col(c).str.strip_chars().str.extract_groups(_TIMESTAMP_PATTERN).alias(f"_g_{c}")
            for c in names
        ]
    )
    staged = parts.with_columns(
        [_naive(pl.col(f"_g_{c}")).alias(f"_n_{c}") for c in names]
        + [_offset_minutes(pl.col(f"_g_{c}")).alias(f"_o_{c}") for c in names]
    )
    tz = pl.col(timezone)
    return staged.with_columns(
        [
            pl.when(pl.col(f"_g_{c}").struct.field("4").is_null())
            .then(local_to_utc(pl.col(f"_n_{c}"), tz, zones))
            .when(pl.col(f"_o_{c}").abs() <= _MAX_OFFSET_MINUTES)
            .then(
                (pl.col(f"_n_{c}") - pl.duration(minutes=pl.col(f"_o_{c}"))).dt.replace_time_zone(
                    "UTC"
                )
            )
            .otherwise(pl.lit(None, dtype=pl.Datetime("us", "UTC")))
            .alias(f"_p_{c}")
            for c in names
        ]
    ).drop([f"_{k}_{c}" for c in names for k in "gno"])


def _naive(parts: pl.Expr) -> pl.Expr:
    """The wall-clock part of extracted timestamp groups."""
    clock = pl.coalesce(parts.struct.field("2"), pl.lit("00:00"))
    seconds = pl.coalesce(parts.struct.field("3"), pl.lit(":00"))
    return pl.concat_str(parts.struct.field("1"), pl.lit(" "), clock, seconds).str.to_datetime(
        "%Y-%m-%d %H:%M:%S%.f", time_unit="us", strict=False
    )


def _offset_minutes(parts: pl.Expr) -> pl.Expr:
    """The UTC offset of extracted timestamp groups in minutes (null when absent)."""
    offset = parts.struct.field("4")
    digits = offset.str.replace_all(":", "")
    sign = pl.when(digits.str.starts_with("-")).then(-1).otherwise(1)
    hours = digits.str.slice(1, 2).cast(pl.Int64, strict=False)
    minutes = pl.coalesce(digits.str.slice(3, 2).cast(pl.Int64, strict=False), pl.lit(0))
    return (
        pl.when(offset.str.to_uppercase() == "Z")
        .then(pl.lit(0, dtype=pl.Int64))
        .otherwise(sign * (hours * 60 + minutes))
    )


def parse_timestamp(raw: pl.Expr, timezone: pl.Expr, zones: Iterable[str]) -> pl.Expr:
    """One ISO 8601 text expression as UTC instants (convenience form of `add_timestamps`)."""
    parts = raw.str.strip_chars().str.extract_groups(_TIMESTAMP_PATTERN)
    naive = _naive(parts)
    offset_minutes = _offset_minutes(parts)
    return (
        pl.when(parts.struct.field("4").is_null())
        .then(local_to_utc(naive, timezone, zones))
        .when(offset_minutes.abs() <= _MAX_OFFSET_MINUTES)
        .then((naive - pl.duration(minutes=offset_minutes)).dt.replace_time_zone("UTC"))
        .otherwise(pl.lit(None, dtype=pl.Datetime("us", "UTC")))
    )


def phone_digits(raw: pl.Expr) -> pl.Expr:
    """The digits of a phone value (every other character dropped)."""
    return raw.str.replace_all(r"\D", "")


def normalise_phone(raw: pl.Expr, digits: pl.Expr | None = None) -> pl.Expr:
    """A phone number in E.164 (US default region), or null when it cannot be one.

    Ten digits whose area code and exchange start 2-9 become +1...; eleven digits starting
    with 1 likewise; a number written with a leading '+' keeps its 8-15 digits. `digits` is
    `phone_digits(raw)` when a frame computed it in an earlier step: polars evaluates each
    use of a repeated sub-expression here anew, and the digits are most of the cost.
    """
    digits = phone_digits(raw) if digits is None else digits
    length = digits.str.len_chars()
    # The ten national digits: the whole number, or eleven digits after a leading 1.
    national = (
        pl.when(length == 10)
        .then(digits)
        .when((length == 11) & digits.str.starts_with("1"))
        .then(digits.str.slice(1))
    )
    return (
        pl.when(raw.str.strip_chars().str.starts_with("+") & length.is_between(8, 15))
        .then(pl.concat_str(pl.lit("+"), digits))
        .when(national.str.contains(r"^[2-9]\d{2}[2-9]\d{6}$"))
        .then(pl.concat_str(pl.lit("+1"), national))
        .otherwise(pl.lit(None, dtype=pl.String))
    )


def normalise_email(raw: pl.Expr) -> pl.Expr:
    """A lower-cased email address, or null when it does not look like one."""
    email = raw.str.strip_chars().str.to_lowercase()
    return pl.when(email.str.contains(_EMAIL_PATTERN)).then(email).otherwise(pl.lit(None))

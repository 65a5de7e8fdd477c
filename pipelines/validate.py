"""Validation of parsed export rows: each row gets the first failing column and reason, or none.

Input frames hold the contract columns as text plus `practice_slug`, `timezone`, `_file`
(the file name), `_source_file` (practice/file) and `_line` (physical line, header = 1).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import available_timezones

import polars as pl
from polars.expr.whenthen import ChainedThen, Then

from pipelines.contract import (
    LEAD_STATUSES,
    PATIENTS,
    PRACTICES,
    REFERRALS,
    TREATMENT_CATEGORIES,
    TREATMENTS,
    ExportFile,
)
from pipelines.parsing import (
    add_timestamps,
    normalise_email,
    normalise_phone,
    parse_bool,
    parse_float,
    parse_int,
    phone_digits,
)

MISSING = "missing value"
BAD_TIMESTAMP = "not an ISO 8601 date or date-time"
FUTURE = "is in the future"
_FUTURE_GRACE = timedelta(days=1)
_SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
SOURCE_FORMATS = ("canonical", "fhir", "opendental")


@functools.cache
def _zones() -> frozenset[str]:
    """The IANA zone names (available_timezones() walks the tz database on every call)."""
    return frozenset(available_timezones())


# Phone columns: their digits are computed a step before the parsers (`_d_<column>`).
PHONE_COLUMNS: dict[str, tuple[str, ...]] = {
    PATIENTS.name: ("phone",),
    REFERRALS.name: ("lead_phone",),
}

TIMESTAMP_COLUMNS: dict[str, tuple[str, ...]] = {
    PRACTICES.name: ("onboarded_at",),
    PATIENTS.name: ("updated_at",),
    TREATMENTS.name: ("completed_at", "results_visible_at"),
    REFERRALS.name: ("referred_at", "status_at"),
}


@dataclass(frozen=True)
class Rule:
    """A row fails `column` with `reason` when `bad` is true."""

    column: str
    bad: pl.Expr
    reason: str


@dataclass(frozen=True)
class Checked:
    """Rows split into typed good rows (raw-table columns) and quarantine rows."""

    good: pl.DataFrame
    bad: pl.DataFrame


def _raw(column: str) -> pl.Expr:
    return pl.col(column)


def _parsed(column: str) -> pl.Expr:
    return pl.col(f"_p_{column}")


def _required(column: str) -> Rule:
    return Rule(column, _raw(column).is_null(), MISSING)


# Identifiers are keys in the operational store (VARCHAR(64) there): a longer one is refused at
# the door rather than truncated or failing later (docs/data-contract.md).
MAX_ID_LENGTH = 64
TOO_LONG = f"longer than {MAX_ID_LENGTH} characters"


def _bounded(column: str) -> Rule:
    return Rule(column, _raw(column).str.len_chars() > MAX_ID_LENGTH, TOO_LONG)


def _unparsed(column: str, reason: str) -> Rule:
    """Present but unreadable."""
    return Rule(column, _raw(column).is_not_null() & _parsed(column).is_null(), reason)


def _timestamp_rules(column: str, now: datetime, *, required: bool, future: bool) -> list[Rule]:
    rules = [_required(column)] if required else []
    rules.append(_unparsed(column, BAD_TIMESTAMP))
    if future:
        rules.append(Rule(column, _parsed(column) > now + _FUTURE_GRACE, FUTURE))
    return rules


def _bool_rules(column: str) -> list[Rule]:
    return [_required(column), _unparsed(column, "not a boolean (true/false/yes/no/y/n/1/0)")]


def _amount_rules(column: str, *, required: bool) -> list[Rule]:
    rules = [_required(column)] if required else []
    rules.append(_unparsed(column, "not a number"))
    rules.append(Rule(column, _parsed(column) < 0, "negative value"))
    return rules


def _parse(spec: ExportFile, zones: set[str]) -> dict[str, pl.Expr]:
    """Typed versions of every column that needs parsing, by column name."""

    def ts(column: str) -> pl.Expr:
        # Parsed beforehand by add_timestamps (see TIMESTAMP_COLUMNS).
        return pl.col(f"_p_{column}")

    if spec is PRACTICES:
        return {
            "contracted_hours_per_week": parse_float(_raw("contracted_hours_per_week")),
            "onboarded_at": ts("onboarded_at"),
            "source_format": _raw("source_format").str.to_lowercase(),
            "monthly_fee": parse_float(_raw("monthly_fee")),
        }
    if spec is PATIENTS:
        flags = ("consent_call", "consent_text", "consent_email", "do_not_contact")
        return {
            "phone": normalise_phone(_raw("phone"), pl.col("_d_phone")),
            "email": normalise_email(_raw("email")),
            **{flag: parse_bool(_raw(flag)) for flag in flags},
            "satisfaction_score": parse_int(_raw("satisfaction_score")),
            "updated_at": ts("updated_at"),
        }
    if spec is TREATMENTS:
        return {
            "value": parse_float(_raw("value")),
            "completed_at": ts("completed_at"),
            "results_visible_at": ts("results_visible_at"),
        }
    return {
        "lead_phone": normalise_phone(_raw("lead_phone"), pl.col("_d_lead_phone")),
        "lead_email": normalise_email(_raw("lead_email")),
        "referred_at": ts("referred_at"),
        "status_at": ts("status_at"),
        "booked_value": parse_float(_raw("booked_value")),
    }


def _rules(spec: ExportFile, now: datetime) -> list[Rule]:
    """Field rules in the order they are reported (the first failing one wins)."""
    if spec is PRACTICES:
        return [
            _required("practice_slug"),
            Rule(
                "practice_slug",
                ~_raw("practice_slug").str.contains(_SLUG_PATTERN),
                "not a slug (lower-case letters, digits and hyphens)",
            ),
            _bounded("practice_slug"),
            _required("name"),
            _required("specialty"),
            _required("timezone"),
            Rule(
                "timezone",
                ~_raw("timezone").is_in(sorted(_zones())),
                "unknown IANA time zone",
            ),
            *_amount_rules("contracted_hours_per_week", required=True),
            Rule(
                "contracted_hours_per_week",
                _parsed("contracted_hours_per_week") > 168,
                "more hours than a week has",
            ),
            *_timestamp_rules("onboarded_at", now, required=False, future=True),
            Rule(
                "source_format",
                ~_raw("source_format").str.to_lowercase().is_in(SOURCE_FORMATS),
                "unknown source_format (canonical, fhir or opendental)",
            ),
            *_amount_rules("monthly_fee", required=False),
        ]
    if spec is PATIENTS:
        return [
            _required("patient_id"),
            _bounded("patient_id"),
            _unparsed("phone", "malformed phone number"),
            _unparsed("email", "malformed email address"),
            *[
                rule
                for c in ("consent_call", "consent_text", "consent_email", "do_not_contact")
                for rule in _bool_rules(c)
            ],
            _unparsed("satisfaction_score", "not a whole number"),
            Rule(
                "satisfaction_score",
                ~_parsed("satisfaction_score").is_between(0, 10),
                "out of range 0-10",
            ),
            *_timestamp_rules("updated_at", now, required=False, future=True),
        ]
    if spec is TREATMENTS:
        return [
            _required("treatment_id"),
            _bounded("treatment_id"),
            _required("patient_id"),
            _bounded("patient_id"),
            _required("treatment_code"),
            _bounded("treatment_code"),
            _required("category"),
            Rule("category", ~_raw("category").is_in(TREATMENT_CATEGORIES), "unknown category"),
            *_amount_rules("value", required=True),
            *_timestamp_rules("completed_at", now, required=True, future=True),
            *_timestamp_rules("results_visible_at", now, required=False, future=False),
            Rule(
                "results_visible_at",
                _parsed("results_visible_at") < _parsed("completed_at"),
                "before completed_at",
            ),
        ]
    return [
        _required("lead_id"),
        _bounded("lead_id"),
        _bounded("referrer_patient_id"),
        _bounded("became_patient_id"),
        _unparsed("lead_phone", "malformed phone number"),
        _unparsed("lead_email", "malformed email address"),
        *_timestamp_rules("referred_at", now, required=True, future=True),
        _required("status"),
        Rule("status", ~_raw("status").is_in(LEAD_STATUSES), "unknown lead status"),
        *_timestamp_rules("status_at", now, required=False, future=True),
        Rule("status_at", _parsed("status_at") < _parsed("referred_at"), "before referred_at"),
        *_amount_rules("booked_value", required=False),
    ]


def _first_failure(rules: list[Rule]) -> tuple[pl.Expr, pl.Expr]:
    """The (column, reason) of the first rule a row breaks, null when it breaks none."""
    column: Then | ChainedThen = pl.when(rules[0].bad.fill_null(False)).then(
        pl.lit(rules[0].column)
    )
    reason: Then | ChainedThen = pl.when(rules[0].bad.fill_null(False)).then(
        pl.lit(rules[0].reason)
    )
    for rule in rules[1:]:
        bad = rule.bad.fill_null(False)
        column = column.when(bad).then(pl.lit(rule.column))
        reason = reason.when(bad).then(pl.lit(rule.reason))
    return column.otherwise(pl.lit(None, dtype=pl.String)), reason.otherwise(
        pl.lit(None, dtype=pl.String)
    )


def _typed(spec: ExportFile, parsed: set[str]) -> list[pl.Expr]:
    """The raw-table columns, in the table's order, from text and parsed columns."""
    names = ["practice_slug", *[c for c in spec.columns if c != "practice_slug"]]
    return [_parsed(name).alias(name) if name in parsed else _raw(name) for name in names]


def check_rows(
    rows: pl.DataFrame,
    spec: ExportFile,
    *,
    now: datetime,
    known_patients: pl.DataFrame | None = None,
) -> Checked:
    """Validate `rows` of one file kind; `known_patients` (practice_slug, patient_id) are the
    patients a treatment or a lead's referrer may point at."""
    text_columns = [c for c in spec.columns if c != "practice_slug"]
    cleaned = rows.with_columns(
        [pl.col(c).str.strip_chars().replace("", None) for c in text_columns]
    )
    zones = set(cleaned["timezone"].drop_nulls().unique().to_list()) & _zones()
    column, reason = _first_failure(_rules(spec, now))
    key = ["practice_slug", *spec.key[1:]] if spec is not PRACTICES else ["practice_slug"]
    scope = ["practice_slug", "_file"] if spec is not PRACTICES else ["_file"]
    # Lazy so common-subexpression elimination evaluates each parser once, though the rules
    # and the parsers repeat the same sub-expressions many times.
    staged = (
        add_timestamps(cleaned, TIMESTAMP_COLUMNS[spec.name], "timezone", zones)
        .lazy()
        .with_columns(
            [phone_digits(pl.col(c)).alias(f"_d_{c}") for c in PHONE_COLUMNS.get(spec.name, ())]
        )
        .with_columns(
            [
                expr.alias(f"_p_{name}")
                for name, expr in _parse(spec, zones).items()
                if name not in TIMESTAMP_COLUMNS[spec.name]
            ]
        )
        .with_columns(_column=column, _reason=reason)
        .drop([f"_d_{c}" for c in PHONE_COLUMNS.get(spec.name, ())])
        .collect()
    )
    staged = _flag_repeats(staged, spec, scope=scope, key=key, text_columns=text_columns)
    staged = _check_references(staged, spec, known_patients)
    bad = staged.filter(pl.col("_reason").is_not_null()).select(
        practice_slug=pl.col("practice_slug"),
        file=pl.col("_file"),
        line=pl.col("_line").cast(pl.Int32),
        column=pl.col("_column"),
        reason=pl.col("_reason"),
        raw_record=pl.concat_str([pl.col(c).fill_null("") for c in spec.columns], separator=","),
    )
    good = staged.filter(pl.col("_reason").is_null()).select(
        *_typed(spec, set(_parse(spec, zones))),
        _source_file=pl.col("_source_file"),
        _source_line=pl.col("_line").cast(pl.Int32),
        **({"_source_format": pl.col("_source_format")} if "_source_format" in staged.columns
           else {}),
    )
    return Checked(good=good, bad=bad)


def _repeat_flags(
    rows: pl.DataFrame, scope: list[str], key: list[str], text_columns: list[str]
) -> pl.DataFrame:
    """Flag exact repeats of an earlier line, then later rows reusing a valid row's key."""
    duplicate_of = pl.col("_line").min().over([*scope, *text_columns])
    flagged = rows.with_columns(
        _column=pl.when(pl.col("_line") != duplicate_of).then(None).otherwise("_column"),
        _reason=pl.when(pl.col("_line") != duplicate_of)
        .then(pl.format("duplicate of line {}", duplicate_of))
        .otherwise("_reason"),
    )
    first_of_key = (
        pl.when(pl.col("_reason").is_null()).then(pl.col("_line")).min().over([*scope, *key])
    )
    later = pl.col("_reason").is_null() & (pl.col("_line") != first_of_key)
    return flagged.with_columns(
        _column=pl.when(later).then(pl.lit(key[-1])).otherwise("_column"),
        _reason=pl.when(later)
        .then(pl.format("same {} as line {} with different content", pl.lit(key[-1]), first_of_key))
        .otherwise("_reason"),
    )


def _flag_repeats(
    staged: pl.DataFrame,
    spec: ExportFile,
    *,
    scope: list[str],
    key: list[str],
    text_columns: list[str],
) -> pl.DataFrame:
    """Apply `_repeat_flags` to the rows that share their key within a file (same order out).

    A repeat of either kind shares its key column with an earlier row, so the windows over
    every text column run only on those few rows. practices.csv compares rows without the
    slug, so all of its (few) rows take the windows.
    """
    if spec is PRACTICES or key[-1] not in text_columns:
        return _repeat_flags(staged, scope, key, text_columns)
    crowded_rows = staged.select(pl.arg_where(pl.len().over([*scope, *key]) > 1)).to_series()
    if crowded_rows.is_empty():
        return staged
    # The few crowded rows' verdicts are put back at their rows (no join over every row).
    fixed = _repeat_flags(staged[crowded_rows], scope, key, text_columns)
    return staged.with_columns(
        staged["_column"].clone().scatter(crowded_rows, fixed["_column"]),
        staged["_reason"].clone().scatter(crowded_rows, fixed["_reason"]),
    )


def _check_references(
    staged: pl.DataFrame, spec: ExportFile, known_patients: pl.DataFrame | None
) -> pl.DataFrame:
    """Flag a treatment's patient or a lead's referrer that the practice does not have."""
    if spec is TREATMENTS:
        column = "patient_id"
    elif spec is REFERRALS:
        column = "referrer_patient_id"
    else:
        return staged
    known = (
        known_patients
        if known_patients is not None
        else pl.DataFrame(schema={"practice_slug": pl.String, "patient_id": pl.String})
    )
    # A membership test of (practice, id) pairs: no join, no copy of the rows' columns.
    pairs = known.select(pl.struct("practice_slug", pl.col("patient_id").alias(column)))
    flagged = staged.with_columns(
        _known=pl.struct("practice_slug", column).is_in(pairs.to_series().implode())
    )
    unknown = pl.col("_reason").is_null() & pl.col(column).is_not_null() & ~pl.col("_known")
    return flagged.with_columns(
        _column=pl.when(unknown).then(pl.lit(column)).otherwise("_column"),
        _reason=pl.when(unknown)
        .then(pl.lit("unknown patient (not in this drop's patients nor loaded before)"))
        .otherwise("_reason"),
    ).drop("_known")

"""Value parsers: booleans, timestamps, phones, emails (literal inputs, literal outputs)."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from pipelines.parsing import (
    add_timestamps,
    normalise_email,
    normalise_phone,
    parse_bool,
    parse_timestamp,
)

ZONES = ["America/Chicago", "America/Phoenix"]


def test_booleans_accept_every_spelling_in_any_case() -> None:
    words = ["true", "FALSE", "Yes", "no", "Y", "n", "1", "0", "maybe", None]
    got = pl.select(parse_bool(pl.lit(pl.Series(words)))).to_series().to_list()
    assert got == [True, False, True, False, True, False, True, False, None, None]


def test_timestamps_read_naive_values_in_the_practice_zone() -> None:
    frame = pl.DataFrame(
        {
            "at": [
                "2026-01-02",
                "2026-01-02T03:04",
                "2026-01-02 03:04:05",
                "2026-01-02T03:04:05Z",
                "2026-01-02T03:04:05-05:00",
                "2026-07-01T12:00:00",
                "2026-02-30",
                "02/01/2026",
                "2026-01-02T03:04:05+25:00",
            ],
            "tz": ["America/Chicago"] * 5 + ["America/Phoenix"] + ["America/Chicago"] * 3,
        }
    )
    got = add_timestamps(frame, ["at"], "tz", ZONES)["_p_at"].to_list()
    assert got == [
        datetime(2026, 1, 2, 6, 0, tzinfo=UTC),
        datetime(2026, 1, 2, 9, 4, tzinfo=UTC),
        datetime(2026, 1, 2, 9, 4, 5, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 1, 2, 8, 4, 5, tzinfo=UTC),
        datetime(2026, 7, 1, 19, 0, tzinfo=UTC),  # Phoenix keeps UTC-7 all summer
        None,
        None,
        None,
    ]


def test_dst_gap_and_overlap_are_read_without_error() -> None:
    frame = pl.DataFrame(
        {"at": ["2026-03-08T02:30:00", "2026-11-01T01:30:00"], "tz": ["America/Chicago"] * 2}
    )
    got = frame.select(parse_timestamp(pl.col("at"), pl.col("tz"), ZONES)).to_series().to_list()
    assert got == [
        datetime(2026, 3, 8, 8, 30, tzinfo=UTC),  # skipped hour: read one hour later (CDT)
        datetime(2026, 11, 1, 6, 30, tzinfo=UTC),  # repeated hour: the earlier instant
    ]


def test_phones_normalise_to_e164_or_null() -> None:
    raw = [
        "(312) 555-0100",
        "1-312-555-0100",
        "+44 20 7946 0958",
        "312-155-0100",  # exchange may not start with 1
        "12345",
        "call me",
        "+1234567",  # 7 digits after '+': too short
    ]
    got = pl.select(normalise_phone(pl.lit(pl.Series(raw)))).to_series().to_list()
    assert got == ["+13125550100", "+13125550100", "+442079460958", None, None, None, None]


def test_emails_are_lower_cased_or_rejected() -> None:
    raw = ["Ann@Example.COM ", "not-an-email", "a@b"]
    got = pl.select(normalise_email(pl.lit(pl.Series(raw)))).to_series().to_list()
    assert got == ["ann@example.com", None, None]

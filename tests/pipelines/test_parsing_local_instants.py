"""The per-hour wall-clock lookup gives exactly what the per-value zone rules give."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.parsing import local_instants, local_to_utc

ZONES = ["America/Chicago", "America/Phoenix", "Australia/Lord_Howe", "Asia/Kathmandu"]

# Wall-clock times near the 2026 transitions of these zones (and ordinary ones), to the
# microsecond, so hours that hold a half-hour transition are exercised too.
_ANCHORS = [
    datetime(2026, 3, 8, 2, 0),  # Chicago springs forward
    datetime(2026, 11, 1, 1, 0),  # Chicago falls back
    datetime(2026, 4, 5, 1, 30),  # Lord Howe falls back half an hour
    datetime(2026, 10, 4, 2, 0),  # Lord Howe springs forward half an hour
    datetime(2026, 7, 1, 12, 0),
]
_naive = st.builds(
    lambda anchor, micros: anchor + timedelta(microseconds=micros),
    st.sampled_from(_ANCHORS),
    st.integers(-2 * 3_600_000_000, 2 * 3_600_000_000),
)
_row = st.tuples(st.one_of(st.none(), _naive), st.sampled_from([*ZONES, "Nowhere/Else", None]))


def _expected(naive: pl.Series, zone: pl.Series) -> pl.Series:
    frame = pl.DataFrame({"n": naive, "tz": zone})
    return frame.select(local_to_utc(pl.col("n"), pl.col("tz"), ZONES)).to_series()


@settings(max_examples=200, deadline=None)
@given(st.lists(_row, max_size=40))
def test_local_instants_equal_zone_rules(rows: list[tuple[datetime | None, str | None]]) -> None:
    naive = pl.Series("n", [n for n, _ in rows], dtype=pl.Datetime("us"))
    zone = pl.Series("tz", [z for _, z in rows], dtype=pl.String)
    got = local_instants(naive, zone, ZONES)
    assert got.dtype == pl.Datetime("us", "UTC")
    assert got.to_list() == _expected(naive, zone).to_list()


def test_skipped_hour_reads_one_hour_later_and_repeated_hour_the_earlier() -> None:
    naive = pl.Series("n", [datetime(2026, 3, 8, 2, 30), datetime(2026, 11, 1, 1, 30)])
    zone = pl.Series("tz", ["America/Chicago", "America/Chicago"])
    got = local_instants(naive, zone, ["America/Chicago"]).dt.replace_time_zone(None)
    assert got.to_list() == [datetime(2026, 3, 8, 8, 30), datetime(2026, 11, 1, 6, 30)]

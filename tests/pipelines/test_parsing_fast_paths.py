"""The timestamp fast path reads every value exactly as the general parser does."""

from __future__ import annotations

import re

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.parsing import (
    _general_timestamps,
    add_timestamps,
    normalise_phone,
    phone_digits,
)

ZONES = ["America/Chicago", "America/Phoenix", "Australia/Lord_Howe"]

_two = st.sampled_from(["01", "02", "03", "08", "10", "11", "12", "13", "28", "29", "30", "31"])
_clock = st.sampled_from(["00", "01", "02", "03", "12", "23", "24", "1", "59", "60"])
_date = st.builds(
    lambda y, m, d: f"{y}-{m}-{d}",
    st.sampled_from(["2024", "2026", "1999", "20261", "202"]),
    st.one_of(_two, st.sampled_from(["1", "3", " 3"])),
    st.one_of(_two, st.sampled_from(["1", "08 "])),
)
_time = st.one_of(
    st.just(""),
    st.builds(
        lambda sep, h, m, s: f"{sep}{h}:{m}{s}",
        st.sampled_from(["T", "t", " ", "  ", "_"]),
        _clock,
        _clock,
        st.sampled_from(["", ":00", ":59", ":60", ":30.5", ":01.123456789", ":1"]),
    ),
)
_offset = st.sampled_from(["", "", "", "Z", "z", " Z", "+05:30", "-0600", "+25:00", "-05", "Zulu"])
_common = st.builds(
    lambda y, mo, d, sep, h, mi, sec, z: f"{y}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}{sec}{z}",
    st.integers(1999, 2030),
    st.integers(1, 12),
    st.integers(1, 28),
    st.sampled_from(["T", " "]),
    st.integers(0, 23),
    st.integers(0, 59),
    st.sampled_from(["", ":00", ":42"]),
    st.sampled_from(["", "", "Z"]),
)
_timestamp = st.one_of(
    _common,
    st.builds(
        lambda p, d, t, o, s: f"{p}{d}{t}{o}{s}",
        st.sampled_from(["", " "]),
        _date,
        _time,
        _offset,
        st.sampled_from(["", " "]),
    ),
    st.text(alphabet="0123456789-:TZ +.", max_size=22),
)


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), _timestamp), min_size=1, max_size=12),
    zone=st.sampled_from(ZONES),
)
def test_fast_timestamps_equal_the_general_parser(values: list[str | None], zone: str) -> None:
    frame = pl.DataFrame(
        {"at": values, "tz": [zone] * len(values)}, schema={"at": pl.String, "tz": pl.String}
    )
    # Compared as epoch microseconds: year 0 is valid here but not for Python's datetime.
    fast = add_timestamps(frame, ["at"], "tz", ZONES)["_p_at"].cast(pl.Int64).to_list()
    general = _general_timestamps(frame, ["at"], "tz", ZONES)["_p_at"].cast(pl.Int64).to_list()
    assert fast == general


def test_fast_timestamps_cover_dst_edges_and_the_common_shapes() -> None:
    values = [
        "2026-03-08T02:30:00",
        "2026-03-08 02:30",
        "2026-11-01 01:30",
        "2026-11-01T01:30:00Z",
        "2026-04-05 01:45",
        "2026-01-02 01:02",
        "2026-01-02T03:04:05",
        "2026-01-02T03:04:05Z",
        "2026-10-04 02:10:00",
        "2026-03-08",
        "2026-3-08",
        " 2026-03-08 ",
    ]
    for zone in ZONES:
        frame = pl.DataFrame({"at": values, "tz": [zone] * len(values)})
        fast = add_timestamps(frame, ["at"], "tz", ZONES)["_p_at"].to_list()
        assert fast == _general_timestamps(frame, ["at"], "tz", ZONES)["_p_at"].to_list()
        assert fast[-2] is None and fast[-1] is not None


def _phone_by_the_rules(value: str | None) -> str | None:
    """docs/data-contract.md's phone rules, one value at a time (the reference)."""
    if value is None:
        return None
    text = value.strip()
    digits = re.sub(r"\D", "", text)
    if text.startswith("+") and 8 <= len(digits) <= 15:
        return "+" + digits
    national = digits[1:] if len(digits) == 11 and digits.startswith("1") else digits
    if len(digits) in (10, 11) and re.fullmatch(r"[2-9]\d{2}[2-9]\d{6}", national):
        return "+1" + national
    return None


_phone = st.one_of(
    st.none(),
    st.text(alphabet="0123456789 +-().x\u0663a", max_size=18),
    st.builds(
        lambda lead, area, rest, style: style.format(lead=lead, area=area, rest=rest),
        st.sampled_from(["", "1", "+1", "+44", " "]),
        st.sampled_from(["312", "212", "112", "021", "٣12"]),
        st.sampled_from(["5550100", "1550100", "555010", "55501000"]),
        st.sampled_from(["{lead}{area}{rest}", "{lead} ({area}) {rest}", "{lead}-{area}-{rest} "]),
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_phone, min_size=1, max_size=30))
def test_phones_with_digits_computed_first_follow_the_rules(values: list[str | None]) -> None:
    frame = pl.DataFrame({"phone": values}, schema={"phone": pl.String})
    expected = [_phone_by_the_rules(v) for v in values]
    one_step = frame.select(normalise_phone(pl.col("phone")).alias("e164"))["e164"].to_list()
    staged = (
        frame.with_columns(_d=phone_digits(pl.col("phone")))
        .select(normalise_phone(pl.col("phone"), pl.col("_d")).alias("e164"))["e164"]
        .to_list()
    )
    assert one_step == expected
    assert staged == expected


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.none(), _timestamp, _common),
            st.one_of(st.none(), _timestamp, _common),
            st.sampled_from([*ZONES, "America/New_York", "Mars/Olympus", None]),
        ),
        min_size=1,
        max_size=16,
    )
)
def test_fast_timestamps_with_zones_mixed_in_one_frame_equal_the_general_parser(
    rows: list[tuple[str | None, str | None, str | None]],
) -> None:
    # add_timestamps reads each zone's rows apart and the leftovers apart, then puts every
    # value back at its row: the same instants, in the same rows, as the general parser's
    # whole-frame reading (a zone outside the list given, or none, reads as null in both).
    frame = pl.DataFrame(
        {"a": [r[0] for r in rows], "b": [r[1] for r in rows], "tz": [r[2] for r in rows]},
        schema={"a": pl.String, "b": pl.String, "tz": pl.String},
    )
    fast = add_timestamps(frame, ["a", "b"], "tz", ZONES)
    general = _general_timestamps(frame, ["a", "b"], "tz", ZONES)
    assert fast.columns == [*frame.columns, "_p_a", "_p_b"]
    for column in ("_p_a", "_p_b"):
        assert fast[column].dtype == pl.Datetime("us", "UTC")
        assert fast[column].cast(pl.Int64).to_list() == general[column].cast(pl.Int64).to_list()

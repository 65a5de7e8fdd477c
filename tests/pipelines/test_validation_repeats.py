"""Repeat flags computed on the rows sharing a key equal the flags computed on every row."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.contract import PATIENTS
from pipelines.validate import _flag_repeats, _repeat_flags

TEXT = [c for c in PATIENTS.columns if c != "practice_slug"]
SCOPE = ["practice_slug", "_file"]
KEY = ["practice_slug", "patient_id"]

_row = st.fixed_dictionaries(
    {
        "practice_slug": st.sampled_from(["alpha", "beta"]),
        "patient_id": st.sampled_from(["p1", "p2", "p3", "p4", None]),
        "first_name": st.sampled_from(["Ann", "Bo"]),
        "bad": st.booleans(),
    }
)


def _frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    """Patients rows in file order, some already failing a field rule."""
    base = pl.DataFrame(
        {
            "practice_slug": [r["practice_slug"] for r in rows],
            "patient_id": [r["patient_id"] for r in rows],
            "first_name": [r["first_name"] for r in rows],
            "_column": ["phone" if r["bad"] else None for r in rows],
            "_reason": ["malformed phone number" if r["bad"] else None for r in rows],
        },
        schema={
            "practice_slug": pl.String,
            "patient_id": pl.String,
            "first_name": pl.String,
            "_column": pl.String,
            "_reason": pl.String,
        },
    )
    others = [pl.lit(None, dtype=pl.String).alias(c) for c in TEXT if c not in base.columns]
    return base.with_columns(
        *others,
        _file=pl.lit("patients.csv"),
        _line=pl.int_range(2, pl.len() + 2, dtype=pl.Int64),
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(_row, max_size=30))
def test_flags_on_crowded_rows_equal_flags_on_all_rows(rows: list[dict[str, object]]) -> None:
    frame = _frame(rows)
    expected = _repeat_flags(frame, SCOPE, KEY, TEXT)
    got = _flag_repeats(frame, PATIENTS, scope=SCOPE, key=KEY, text_columns=TEXT)
    assert got.columns == frame.columns
    assert got.equals(expected)


def test_unique_keys_are_left_alone_and_repeats_flagged_in_order() -> None:
    frame = _frame(
        [
            {"practice_slug": "alpha", "patient_id": "p1", "first_name": "Ann", "bad": False},
            {"practice_slug": "alpha", "patient_id": "p2", "first_name": "Ann", "bad": False},
            {"practice_slug": "alpha", "patient_id": "p1", "first_name": "Ann", "bad": False},
            {"practice_slug": "alpha", "patient_id": "p1", "first_name": "Bo", "bad": False},
            {"practice_slug": "beta", "patient_id": "p1", "first_name": "Bo", "bad": False},
        ]
    )
    got = _flag_repeats(frame, PATIENTS, scope=SCOPE, key=KEY, text_columns=TEXT)
    assert got["_reason"].to_list() == [
        None,
        None,
        "duplicate of line 2",
        "same patient_id as line 2 with different content",
        None,
    ]

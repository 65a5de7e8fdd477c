"""Deliberately dirty rows for generated exports, so data quality shows up in the demo."""

from __future__ import annotations

import numpy as np
import polars as pl

# Per file: the column each kind of damage hits and the bad text written there;
# "duplicate" repeats the whole line right after the original.
DAMAGE: dict[str, tuple[tuple[str, str], ...]] = {
    "patients.csv": (
        ("phone", "555-01"),
        ("updated_at", "2025-02-30"),
        ("consent_text", "maybe"),
    ),
    "treatments.csv": (
        ("completed_at", "13/45/2024"),
        ("value", "-1250"),
        ("patient_id", "PX000001"),
    ),
    "referrals.csv": (
        ("referred_at", "not a date"),
        ("referrer_patient_id", "PX000002"),
        ("lead_phone", "12345"),
        ("booked_value", "-300"),
    ),
}


def add_dirty_rows(
    frame: pl.DataFrame, file: str, rng: np.random.Generator, share: float
) -> tuple[pl.DataFrame, int]:
    """Damage about `share` of the rows (bad values or exact duplicates); return the count."""
    damages = DAMAGE[file]
    size = frame.height
    hit = rng.random(size) < share
    kind = rng.integers(0, len(damages) + 1, size)
    duplicate = hit & (kind == len(damages))
    damaged = frame.with_columns(
        [
            pl.when(pl.Series(hit & (kind == index)))
            .then(pl.lit(bad))
            .otherwise(pl.col(column))
            .alias(column)
            for index, (column, bad) in enumerate(damages)
        ]
    ).with_columns(_order=pl.Series(np.arange(size, dtype=np.float64)))
    copies = damaged.filter(pl.Series(duplicate)).with_columns(pl.col("_order") + 0.5)
    result = pl.concat([damaged, copies]).sort("_order", maintain_order=True).drop("_order")
    return result, int(hit.sum())

"""The practices' nightly exports inside a simulated world.

The world's exports are generated once up to its last day ("the future"); each night the
simulator writes what a practice's system would export that night: treatments completed and
friends referred by then, a referral's later outcome hidden (it is still `new` until the
simulated people decide it), and no patient row updated after that night. Naive timestamps
are the practice's local time (docs/data-contract.md).
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import polars as pl

_UTC = pl.Datetime("us", "UTC")


def _instant(column: str, zone: str) -> pl.Expr:
    """A CSV timestamp column as a UTC instant (naive = the practice's zone; bad = null)."""
    text = pl.col(column).str.strip_chars()
    aware = text.str.to_datetime(time_zone="UTC", strict=False, time_unit="us")
    naive = (text.str.to_datetime(strict=False, time_unit="us")
             .dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
             .dt.convert_time_zone("UTC"))
    has_offset = text.str.contains(r"(Z|[+-]\d\d:?\d\d)$")
    return pl.when(has_offset).then(aware).otherwise(naive)


def write_night(full: Path, out: Path, at: datetime) -> None:
    """Write into `out` the exports as they stand at `at` (from the full exports in `full`)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copy(full / "practices.csv", out / "practices.csv")
    zones = dict(pl.read_csv(full / "practices.csv", infer_schema_length=0)
                 .select("practice_slug", "timezone").iter_rows())
    limit = pl.lit(at).dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    for folder in sorted(p for p in full.iterdir() if p.is_dir()):
        zone = str(zones.get(folder.name) or "UTC")
        target = out / folder.name
        target.mkdir()
        for path in sorted(folder.glob("*.csv")):
            frame = pl.read_csv(path, infer_schema_length=0)
            if path.name == "treatments.csv":
                frame = frame.filter(~(_instant("completed_at", zone) > limit).fill_null(False))
            elif path.name == "referrals.csv":
                later = (_instant("status_at", zone) > limit).fill_null(False)
                frame = frame.filter(
                    ~(_instant("referred_at", zone) > limit).fill_null(False)
                ).with_columns(
                    pl.when(later).then(pl.lit("new")).otherwise(pl.col("status")).alias("status"),
                    *(pl.when(later).then(pl.lit(None, pl.String)).otherwise(pl.col(name))
                      .alias(name) for name in ("status_at", "booked_value", "became_patient_id")),
                )
            elif path.name == "patients.csv" and "updated_at" in frame.columns:
                frame = frame.with_columns(
                    pl.when((_instant("updated_at", zone) > limit).fill_null(False))
                    .then(pl.lit(stamp)).otherwise(pl.col("updated_at")).alias("updated_at"))
            frame.write_csv(target / path.name)

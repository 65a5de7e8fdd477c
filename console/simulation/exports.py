"""The practices' nightly exports inside a simulated world.

The world's exports are generated once up to its last day ("the future"); each night the
simulator writes what a practice's system would export that night: treatments completed and
friends referred by then, a referral's later outcome hidden (it is still `new` until the
simulated people decide it), and no patient row updated after that night. Naive timestamps
are the practice's local time (docs/data-contract.md).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

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


_AT = "__instant__"  # the prefix of a parsed timestamp's column
_WHEN = {"treatments.csv": ("completed_at",), "referrals.csv": ("referred_at", "status_at"),
         "patients.csv": ("updated_at",)}  # the timestamps `write_night` filters on


def _stamp(full: Path) -> tuple[Any, ...]:
    """What identifies the full exports' contents: every file's path, size and mtime."""
    found = []
    for path in sorted(full.rglob("*")):
        status = path.stat()
        found.append((str(path), status.st_size, status.st_mtime_ns))
    return tuple(found)


Files = list[tuple[str, str, pl.DataFrame, list[str]]]


@dataclass
class FullExports:
    """The full exports of one world (written once, at set-up), read and their timestamps
    parsed once for a whole run instead of every night: the simulated run keeps one
    (engine.Run), so nothing outlives the run in the process. Read again when any file
    changed (`_stamp`)."""

    full: Path
    _read: tuple[tuple[Any, ...], Files] | None = None

    def files(self) -> Files:
        """Every practice file (as strings, as `pl.read_csv(…, infer_schema_length=0)` reads
        it) with its filtered timestamps as UTC instants (`_AT` + name, listed beside it)."""
        stamp = _stamp(self.full)
        if self._read is not None and self._read[0] == stamp:
            return self._read[1]
        full = self.full
        zones = dict(pl.read_csv(full / "practices.csv", infer_schema_length=0)
                     .select("practice_slug", "timezone").iter_rows())
        files: Files = []
        for folder in sorted(p for p in full.iterdir() if p.is_dir()):
            zone = str(zones.get(folder.name) or "UTC")
            files.append((folder.name, "", pl.DataFrame(), []))  # (the folder, even if empty)
            for path in sorted(folder.glob("*.csv")):
                frame = pl.read_csv(path, infer_schema_length=0)
                names = [n for n in _WHEN.get(path.name, ()) if n in frame.columns]
                # (beside the text columns, under names no export uses; dropped when written)
                files.append((folder.name, path.name, frame.with_columns(
                    *(_instant(n, zone).alias(_AT + n) for n in names)), names))
        self._read = (stamp, files)
        return files


def write_night(full: Path, out: Path, at: datetime,
                exports: FullExports | None = None) -> None:
    """Write into `out` the exports as they stand at `at` (from the full exports in `full`;
    `exports`, when given, is the run's reading of them, kept from night to night)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copy(full / "practices.csv", out / "practices.csv")
    limit = pl.lit(at).dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    for folder, name, frame, parsed in (exports or FullExports(full)).files():
        target = out / folder
        if not name:
            target.mkdir()
            continue
        if name == "treatments.csv":
            frame = frame.filter(~(pl.col(_AT + "completed_at") > limit).fill_null(False))
        elif name == "referrals.csv":
            later = (pl.col(_AT + "status_at") > limit).fill_null(False)
            frame = frame.filter(
                ~(pl.col(_AT + "referred_at") > limit).fill_null(False)
            ).with_columns(
                pl.when(later).then(pl.lit("new")).otherwise(pl.col("status")).alias("status"),
                *(pl.when(later).then(pl.lit(None, pl.String)).otherwise(pl.col(column))
                  .alias(column) for column in ("status_at", "booked_value", "became_patient_id")),
            )
        elif name == "patients.csv" and "updated_at" in frame.columns:
            frame = frame.with_columns(
                pl.when((pl.col(_AT + "updated_at") > limit).fill_null(False))
                .then(pl.lit(stamp)).otherwise(pl.col("updated_at")).alias("updated_at"))
        frame.drop([_AT + n for n in parsed]).write_csv(target / name)

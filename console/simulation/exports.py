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


# The full exports of a world, read and their timestamps parsed once per process (they are
# written once, at set-up): path -> (the files' stamp, [(folder, file, frame, parsed)]),
# where `parsed` names the timestamps added to the frame as instants (`_AT` + name).
_READ: dict[Path, tuple[tuple[Any, ...], list[tuple[str, str, pl.DataFrame, list[str]]]]] = {}
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


def _full_exports(full: Path) -> list[tuple[str, str, pl.DataFrame, list[str]]]:
    """Every practice file of the full exports (as strings, as `pl.read_csv(…,
    infer_schema_length=0)` reads it) with its filtered timestamps as UTC instants; read
    again when any file changed (`_stamp`)."""
    key = full.resolve()
    stamp = _stamp(full)
    cached = _READ.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    zones = dict(pl.read_csv(full / "practices.csv", infer_schema_length=0)
                 .select("practice_slug", "timezone").iter_rows())
    files: list[tuple[str, str, pl.DataFrame, list[str]]] = []
    for folder in sorted(p for p in full.iterdir() if p.is_dir()):
        zone = str(zones.get(folder.name) or "UTC")
        files.append((folder.name, "", pl.DataFrame(), []))  # (the folder, even if empty)
        for path in sorted(folder.glob("*.csv")):
            frame = pl.read_csv(path, infer_schema_length=0)
            names = [n for n in _WHEN.get(path.name, ()) if n in frame.columns]
            # (beside the text columns, under names no export uses; dropped when written)
            files.append((folder.name, path.name, frame.with_columns(
                *(_instant(n, zone).alias(_AT + n) for n in names)), names))
    _READ.clear()  # (one world at a time per process)
    _READ[key] = (stamp, files)
    return files


def write_night(full: Path, out: Path, at: datetime) -> None:
    """Write into `out` the exports as they stand at `at` (from the full exports in `full`)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copy(full / "practices.csv", out / "practices.csv")
    limit = pl.lit(at).dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    for folder, name, frame, parsed in _full_exports(full):
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

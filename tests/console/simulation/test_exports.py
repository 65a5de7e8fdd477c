"""The simulator's nightly exports (console/simulation/exports.py): what a night shows, from
full exports read once per run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from console.simulation import exports
from pipelines.generate import generate_exports

END = datetime(2026, 11, 20, 23, tzinfo=UTC)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_night_shows_what_was_done_by_then_and_rereads_changed_exports(
        tmp_path: Path) -> None:
    full, out = tmp_path / "full", tmp_path / "night"
    generate_exports(full, practices=2, seed=3, months=2, now=END)
    early, late = END - timedelta(days=12), END - timedelta(days=2)
    run = exports.FullExports(full)

    exports.write_night(full, out, early)  # (read afresh)
    first = _files(out)
    exports.write_night(full, out, early, run)
    assert _files(out) == first  # (the run's reading writes the same night)
    exports.write_night(full, out, late, run)
    later = _files(out)
    exports.write_night(full, out, early, run)
    assert _files(out) == first  # (the cached frames are not changed by a night's filter)
    assert set(first) == set(later) and first != later
    slug = sorted(p.name for p in full.iterdir() if p.is_dir())[0]
    written = pl.read_csv(out / slug / "treatments.csv", infer_schema_length=0)
    every = pl.read_csv(full / slug / "treatments.csv", infer_schema_length=0)
    assert 0 < written.height < every.height
    assert written.columns == every.columns  # (no parsed helper column is written)

    # Changed full exports are read again, not served from the cache.
    (full / slug / "treatments.csv").write_text(every.head(1).write_csv())
    exports.write_night(full, out, late, run)
    assert pl.read_csv(out / slug / "treatments.csv", infer_schema_length=0).height <= 1

"""Ingest reads and loads canonical files a batch of practices at a time (peak memory follows
the batch, not the drop); the result must be the same to the row as one batch of everything."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

import pipelines.ingest as ingest_module
from pipelines.generate import generate_exports
from tests.worlds import FIXED_NOW, point_at_home


def _ingest(drop: Path, home: Path, patch: pytest.MonkeyPatch, batch_bytes: int
            ) -> tuple[dict[str, Any], dict[str, list[tuple[Any, ...]]]]:
    point_at_home(patch, home)
    patch.setattr(ingest_module, "BATCH_BYTES", batch_bytes)
    summary = ingest_module.ingest(drop).to_json()
    summary.pop("run_id")
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with duckdb.connect(str(home / "warehouse" / "raw.duckdb"), read_only=True) as store:
        names = [r[0] for r in store.execute(
            "select table_name from information_schema.tables where table_schema = 'main' "
            "order by 1").fetchall()]
        for name in names:
            if name == "ingest_runs":  # its row is the summary (compared above) and a run id
                continue
            columns = [r[0] for r in store.execute(
                "select column_name from information_schema.columns where table_name = ? "
                "and column_name <> 'run_id' order by ordinal_position", [name]).fetchall()]
            select = ", ".join(f'"{c}"' for c in columns)
            tables[name] = store.execute(f"select {select} from {name} order by all").fetchall()
    return summary, tables


@pytest.mark.parametrize("fmt", ["canonical", "fhir", "opendental"])
def test_batches_of_one_practice_load_what_one_batch_loads(
    fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drop = tmp_path / "drop"
    generate_exports(drop, practices=4, seed=23, months=6, now=datetime.fromisoformat(FIXED_NOW),
                     dirty_share=0.05, format=fmt)
    whole_summary, whole = _ingest(drop, tmp_path / "one-batch", monkeypatch, 1 << 62)
    split_summary, split = _ingest(drop, tmp_path / "per-practice", monkeypatch, 1)
    assert split_summary == whole_summary
    assert split.keys() == whole.keys()
    for name in whole:
        assert split[name] == whole[name], name
    assert sum(len(rows) for rows in whole.values()) > 1000
    assert len(whole["raw_patients"]) > 100 and len(whole["raw_treatments"]) > 100
    if fmt == "canonical":
        assert len(whole["quarantine"]) > 20  # the dirty rows, with file/line/column/reason


def test_a_practice_is_batched_whole(tmp_path: Path) -> None:
    from pipelines.contract import PATIENTS
    from pipelines.ingest import Plan, _batches
    from pipelines.precheck import FileCheck

    files = {}
    for slug, size in (("a", 10), ("b", 10), ("c", 50), ("d", 5)):
        path = tmp_path / f"{slug}.csv"
        path.write_bytes(b"x" * size)
        files[slug] = [FileCheck(practice=slug, spec=PATIENTS, path=path, status="ok")]
    plans = {slug: Plan(format="canonical") for slug in files}
    assert _batches(plans, files, 25) == [["a", "b"], ["c"], ["d"]]
    assert _batches(plans, files, 1) == [["a"], ["b"], ["c"], ["d"]]
    assert _batches(plans, files, 10**9) == [["a", "b", "c", "d"]]
    assert _batches({}, {}, 25) == []

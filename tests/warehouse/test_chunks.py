"""Full builds by practice ranges (warehouse/chunks.py): the same snapshot as one piece."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.generate import generate_exports
from pipelines.ingest import ingest
from tests.warehouse.test_incremental import AS_OF, _contacts, _ops, _tables
from warehouse import paths
from warehouse.chunks import Chunk, chunkable, plan_chunks, practice_sizes
from warehouse.data_checks import Check, ChecksFailed, discover_checks
from warehouse.runner import Model, discover_models
from warehouse.snapshot import publish_snapshot

WHOLE = 10**12  # more raw rows than any test world: one piece


def test_ranges_cover_every_practice_without_splitting_one() -> None:
    sizes = [("a", 4), ("b", 4), ("c", 1), ("d", 9), ("e", 2)]
    assert plan_chunks(sizes, 100) == []  # fits in one piece
    assert plan_chunks(sizes, 8) == [
        Chunk(None, "c"), Chunk("c", "d"), Chunk("d", "e"), Chunk("e", None)
    ]
    # a practice bigger than a range is a range of its own
    assert plan_chunks(sizes, 3) == [
        Chunk(None, "b"), Chunk("b", "c"), Chunk("c", "d"), Chunk("d", "e"), Chunk("e", None)
    ]


def test_a_range_selects_its_slugs_and_the_first_one_rows_without_a_practice() -> None:
    conn = duckdb.connect()
    conn.execute(
        "create table t as select unnest(['a', 'b', 'c''d', 'd', null]) as practice_slug"
    )
    chunks = [Chunk(None, "b"), Chunk("b", "c'd"), Chunk("c'd", None)]

    def selected(chunk: Chunk) -> list[object]:
        return [r[0] for r in conn.execute(
            f"select practice_slug from t where {chunk.predicate()} order by all nulls last"
        ).fetchall()]

    assert [selected(c) for c in chunks] == [["a", None], ["b"], ["c'd", "d"]]
    assert Chunk(None, None).predicate() == "true"


def test_the_models_can_run_by_range() -> None:
    assert chunkable(discover_models())
    # a partitioned model reading a whole model that reads a partitioned one cannot
    models = [
        Model(name="stg_a", layer="staging",
              sql="-- partition: practice_slug\nselect * from raw.raw_patients"),
        Model(name="int_whole", layer="intermediate", sql="select count(*) as n from stg_a"),
        Model(name="mart_b", layer="marts",
              sql="-- partition: practice_slug\nselect * from stg_a cross join int_whole"),
    ]
    assert not chunkable(models)


def _world(tmp_path: Path) -> dict[str, object]:
    exports = tmp_path / "exports"
    generate_exports(exports, practices=5, seed=11, months=14, now=AS_OF, dirty_share=0.05)
    ingest(exports)
    slugs = sorted(p.name for p in exports.iterdir() if p.is_dir())
    patients = {
        slug: pl.read_csv(exports / slug / "patients.csv", infer_schema=False)["patient_id"]
        .head(2).to_list()
        for slug in slugs[:2]
    }
    return dict(_ops(slugs, patients, extra=True))


def test_a_build_by_ranges_equals_a_build_in_one_piece(
    loopdesk_home: Path, tmp_path: Path
) -> None:
    """Five practices, one range each (and console activity at two): every published table,
    every model's row count, the checks run and the contact index equal a build in one piece."""
    ops = _world(tmp_path)
    with duckdb.connect() as conn:
        conn.execute(f"attach '{paths.raw_db_path()}' as raw (read_only)")
        assert len(plan_chunks(practice_sizes(conn), 1)) == 5
    whole = publish_snapshot(as_of=AS_OF, ops_events=ops, full=True, chunk_rows=WHOLE)
    ranged = publish_snapshot(as_of=AS_OF, ops_events=ops, full=True, chunk_rows=1)
    assert _tables(ranged.path) == _tables(whole.path)
    assert [(r.name, r.rows) for r in ranged.models] == [(r.name, r.rows) for r in whole.models]
    assert [c.name for c in ranged.checks] == [c.name for c in whole.checks]
    assert _contacts(ranged.path) == _contacts(whole.path)


def test_a_check_failing_in_several_ranges_counts_every_offending_row(
    loopdesk_home: Path, tmp_path: Path
) -> None:
    """A check over a partitioned mart runs range by range: its offending rows are summed over
    the ranges, and the build fails as a build in one piece does."""
    ops = _world(tmp_path)
    failing = Check(
        name="two_patients_per_practice",
        sql="select practice_slug, patient_id from mart_patients "
        "where patient_id in ('P000001', 'P000002')",
    )
    checks = [*discover_checks(), failing]
    found: dict[int, int] = {}
    for chunk_rows in (WHOLE, 1):
        with pytest.raises(ChecksFailed) as raised:
            publish_snapshot(
                as_of=AS_OF, ops_events=ops, full=True, checks=checks, chunk_rows=chunk_rows
            )
        (failure,) = raised.value.failures
        assert failure.name == "two_patients_per_practice"
        found[chunk_rows] = failure.failing_rows
    assert found[1] == found[WHOLE] == 10

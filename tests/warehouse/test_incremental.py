"""Incremental builds: after a one-practice drop, the snapshot equals a full build's."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from pipelines.build import BuildResult, run_build
from pipelines.generate import generate_exports
from pipelines.ingest import ingest
from tests.warehouse import rawdata as rd
from warehouse.contacts import ContactIndex, index_path
from warehouse.incremental import clock_readers, partitioned
from warehouse.runner import discover_models, references

AS_OF = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
# build_params carries the build id; the build_state tables say what each build was built from.
_NOT_COMPARED = {"build_params", "build_state", "build_state_practices", "build_state_counts"}


def _tables(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every published table's rows, sorted (tables are sets)."""
    with duckdb.connect(str(path), read_only=True) as conn:
        conn.execute("set TimeZone = 'UTC'")
        listed = conn.execute("select table_name from duckdb_tables()").fetchall()
        names = [row[0] for row in listed]
        return {
            name: sorted(conn.execute(f"select * from {name}").fetchall(), key=repr)
            for name in names
            if name not in _NOT_COMPARED
        }


def _contacts(snapshot: Path) -> list[tuple[object, ...]]:
    index = ContactIndex(index_path(snapshot))
    try:
        return sorted(index.rows())
    finally:
        index.close()


def _ops(slugs: list[str], patients: dict[str, list[str]], *, extra: bool) -> dict[str, pa.Table]:
    """Console activity on the first two practices (one more call on the second when `extra`)."""
    first, second = slugs[0], slugs[1]
    touches = [
        rd.call_touch(1, patients[first][0], disposition="referred", at=AS_OF - timedelta(days=3),
                      task_id=1, slug=first),
        rd.call_touch(2, patients[second][0], disposition="no_answer",
                      at=AS_OF - timedelta(days=2), task_id=2, slug=second),
    ]
    if extra:
        touches.append(rd.call_touch(3, patients[second][1], disposition="willing_no_name",
                                     at=AS_OF - timedelta(hours=5), task_id=3, slug=second))
    tasks = [
        {"task_id": i, "kind": "ask", "practice_slug": t["practice_slug"],
         "patient_id": t["patient_id"], "created_at": AS_OF - timedelta(days=5),
         "status": "done", "closed_at": t["started_at"], "close_reason": "logged"}
        for i, t in ((t["task_id"], t) for t in touches)
    ]
    consent = [{"practice_slug": first, "subject_type": "patient",
                "subject_id": patients[first][1], "channel": "text", "granted": False,
                "source": "reply", "at": AS_OF - timedelta(days=1)}]
    return {
        "ops_touches": rd.ops_table("ops_touches", touches),
        "ops_tasks": rd.ops_table("ops_tasks", tasks),
        "ops_consent_events": rd.ops_table("ops_consent_events", consent),
    }


def _daily_drop(exports: Path, drop: Path, slug: str, *, new_email: bool = False) -> None:
    """A drop for one practice: its latest rows, some changed, one treatment new."""
    folder = drop / slug
    folder.mkdir(parents=True)
    patients = pl.read_csv(exports / slug / "patients.csv", infer_schema=False).tail(20)
    patients = patients.with_columns(satisfaction_score=pl.lit("10"))
    if new_email:  # a changed contact: the contact index is patched, not shared
        first = pl.int_range(pl.len()) == 0
        patients = patients.with_columns(
            email=pl.when(first).then(pl.lit("moved.patient@example.org")).otherwise("email")
        )
    patients.write_csv(folder / "patients.csv")
    treatments = pl.read_csv(exports / slug / "treatments.csv", infer_schema=False).tail(10)
    new = treatments.tail(1).with_columns(treatment_id=pl.lit("TX-NEW-1"))
    pl.concat([treatments, new]).write_csv(folder / "treatments.csv")
    referrals = pl.read_csv(exports / slug / "referrals.csv", infer_schema=False).tail(5)
    referrals.with_columns(status=pl.lit("booked"), booked_value=pl.lit("900")).write_csv(
        folder / "referrals.csv"
    )


def _same_as_full(incremental: BuildResult, at: datetime, ops: dict[str, pa.Table]) -> None:
    """A full build on the same inputs publishes the same tables, counts and contacts."""
    full = run_build(ops_events=ops, as_of=at, full=True)
    assert full.mode == "full"
    assert _tables(incremental.snapshot_path) == _tables(full.snapshot_path)
    assert incremental.model_rows == full.model_rows
    assert _contacts(incremental.snapshot_path) == _contacts(full.snapshot_path)


def test_incremental_build_equals_a_full_build(loopdesk_home: Path, tmp_path: Path) -> None:
    """One practice's drop plus console activity at another: only those two are rebuilt, and
    every mart (and the contact index) equals a full build's — also once the clock moves."""
    exports = tmp_path / "exports"
    generate_exports(exports, practices=5, seed=11, months=14, now=AS_OF, dirty_share=0.05)
    ingest(exports)
    slugs = sorted(p.name for p in exports.iterdir() if p.is_dir())
    patients = {
        slug: pl.read_csv(exports / slug / "patients.csv", infer_schema=False)["patient_id"]
        .head(2).to_list()
        for slug in slugs[:2]
    }
    first = run_build(ops_events=_ops(slugs, patients, extra=False), as_of=AS_OF)
    assert first.mode == "full"

    _daily_drop(exports, tmp_path / "daily", slugs[0])
    ingest(tmp_path / "daily", practice=slugs[0])
    ops = _ops(slugs, patients, extra=True)
    second = run_build(ops_events=ops, as_of=AS_OF)
    assert second.mode == "incremental"
    with duckdb.connect(str(second.snapshot_path), read_only=True) as conn:
        rebuilt = conn.execute(
            "select count(*) from mart_treatments where treatment_id = 'TX-NEW-1'"
        ).fetchone()
    assert rebuilt == (1,)
    # The drop changed no phone or email: the previous contact index is shared, not copied.
    shared = index_path(second.snapshot_path).stat()
    assert shared.st_ino == index_path(first.snapshot_path).stat().st_ino
    _same_as_full(second, AS_OF, ops)

    # The clock moved: models that read it are rebuilt whole, the others still by practice.
    later = AS_OF + timedelta(days=1)
    third = run_build(ops_events=ops, as_of=later)
    assert third.mode == "incremental"
    _same_as_full(third, later, ops)


def test_a_changed_contact_rewrites_the_contact_index(loopdesk_home: Path, tmp_path: Path) -> None:
    """A drop that changes a patient's email: the index is a new file, equal to a full build's,
    and the previous snapshot's index is left as it was."""
    exports = tmp_path / "exports"
    generate_exports(exports, practices=3, seed=5, months=8, now=AS_OF)
    ingest(exports)
    slug = sorted(p.name for p in exports.iterdir() if p.is_dir())[0]
    first = run_build(as_of=AS_OF)
    before = _contacts(first.snapshot_path)
    _daily_drop(exports, tmp_path / "daily", slug, new_email=True)
    ingest(tmp_path / "daily", practice=slug)
    second = run_build(as_of=AS_OF)
    assert second.mode == "incremental"
    moved = [r for r in _contacts(second.snapshot_path) if r[1] == "moved.patient@example.org"]
    assert len(moved) == 1 and moved[0][2] == slug
    assert _contacts(first.snapshot_path) == before
    inode = index_path(second.snapshot_path).stat().st_ino
    assert inode != index_path(first.snapshot_path).stat().st_ino
    _same_as_full(second, AS_OF, {})


def test_nothing_changed_is_an_incremental_build_of_no_practice(
    loopdesk_home: Path, tmp_path: Path
) -> None:
    """A rebuild on unchanged inputs touches no practice and publishes the same tables."""
    exports = tmp_path / "exports"
    generate_exports(exports, practices=3, seed=3, months=6, now=AS_OF)
    ingest(exports)
    run_build(as_of=AS_OF)
    again = run_build(as_of=AS_OF)
    assert again.mode == "incremental"
    _same_as_full(again, AS_OF, {})


def test_partitioned_models_key_on_the_practice() -> None:
    """A model declared practice-partitioned has practice_slug in its key (its rows swap by it)."""
    models = discover_models()
    declared = [m for m in models if partitioned(m)]
    assert declared
    for model in declared:
        assert "practice_slug" in model.key, model.name
    assert {"mart_ask_candidates", "mart_metric_cohort"} <= clock_readers(models)


def test_a_model_over_partitioned_inputs_only_is_declared_partitioned() -> None:
    """A model that reads only practice-partitioned models (and the build parameters) computes
    each practice's rows from that practice's rows: left undeclared, an incremental build
    evaluates it whole for every practice (int_candidate_treatments did: 7 of a one-practice
    drop's 17 s at 1,000 practices), and its partitioned readers read it whole too."""
    models = discover_models()
    names = [m.name for m in models]
    declared = {m.name for m in models if partitioned(m)}
    undeclared = []
    for model in models:
        if model.name in declared or "practice_slug" not in model.key:
            continue
        inputs = references(model, names)
        reads_raw = bool(re.search(r"(?<![\w.])raw\.", model.sql))
        if inputs and inputs <= declared and not reads_raw:
            undeclared.append(model.name)
    assert undeclared == []


def test_a_drop_that_only_updates_rows_at_the_same_instant_is_rebuilt(
    loopdesk_home: Path, tmp_path: Path
) -> None:
    """A drop that changes existing rows and adds none, loaded at the instant of the first load
    (a pinned clock; or two loads within the clock's resolution): the practice is rebuilt, and
    the snapshot equals a full build's. A fingerprint of row count and latest `_loaded_at` alone
    saw no change and republished the old scores."""
    exports = tmp_path / "exports"
    generate_exports(exports, practices=3, seed=7, months=8, now=AS_OF)
    ingest(exports)
    slug = sorted(p.name for p in exports.iterdir() if p.is_dir())[0]
    run_build(as_of=AS_OF)
    folder = tmp_path / "daily" / slug
    folder.mkdir(parents=True)
    patients = pl.read_csv(exports / slug / "patients.csv", infer_schema=False).tail(20)
    patients.with_columns(satisfaction_score=pl.lit("1")).write_csv(folder / "patients.csv")
    summary = ingest(tmp_path / "daily", practice=slug)
    assert summary.totals()["updated"] > 0 and summary.totals()["inserted"] == 0
    again = run_build(as_of=AS_OF)
    assert again.mode == "incremental"
    _same_as_full(again, AS_OF, {})

"""Ingest in batches of practices gives the same raw store as one pass over the drop."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

import pipelines.ingest as ingest_module
from loopdesk_core.clock import pinned
from pipelines.contract import PATIENTS, PRACTICES
from pipelines.generate import generate_exports
from pipelines.ingest import Plan, ingest, practice_batches
from pipelines.precheck import FileCheck
from tests.pipelines.drops import healthy, write_drop
from tests.worlds import point_at_home
from warehouse.paths import raw_db_path

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
TABLES = ("raw_practices", "raw_patients", "raw_treatments", "raw_referrals", "quarantine",
          "feed_status")
# Times a run stamps (and its id) differ between two runs; everything else must not.
_STAMPS = {"_loaded_at", "quarantined_at", "checked_at", "run_id"}


def _store() -> dict[str, list[tuple[object, ...]]]:
    with duckdb.connect(str(raw_db_path()), read_only=True) as conn:
        out = {}
        for table in TABLES:
            columns = [r[0] for r in conn.execute(f"describe {table}").fetchall()]
            kept = ", ".join(f'"{c}"' for c in columns if c not in _STAMPS)
            out[table] = conn.execute(f"select {kept} from {table} order by all").fetchall()
        return out


def _summary(summary: object) -> dict[str, object]:
    data = json.loads(json.dumps(summary.to_json(), default=str))  # type: ignore[attr-defined]
    data.pop("run_id", None)
    return data


def test_batched_ingest_equals_one_pass(
    loopdesk_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every kind (practices, patients, treatments, referrals), quarantine, feed status and the
    summary are the same whether the drop loads in one batch or one practice at a time — on
    the first load and on a second drop that updates rows."""
    drop = tmp_path / "drop"
    generate_exports(drop, practices=6, seed=5, months=8, now=NOW, dirty_share=0.05)
    # One practice whose patients file lost a column: paused, its other files not loaded.
    broken = sorted(p for p in drop.iterdir() if p.is_dir())[2] / "patients.csv"
    lines = broken.read_text().splitlines()
    broken.write_text("\n".join(",".join(line.split(",")[:-1]) for line in lines) + "\n")
    second = tmp_path / "second"
    generate_exports(second, practices=6, seed=6, months=9, now=NOW, dirty_share=0.05)

    results = []
    # Per practice: 6 batches, committed every INGEST_COMMIT_BATCHES (4) or each on its own.
    runs = (("one-pass", 1 << 40, 4), ("per-practice", 1, 4), ("per-practice-commits", 1, 1))
    for name, batch, commit_batches in runs:
        monkeypatch.setattr(ingest_module, "INGEST_COMMIT_BATCHES", commit_batches)
        point_at_home(monkeypatch, tmp_path / name)
        first = ingest(drop, batch_bytes=batch)
        again = ingest(second, batch_bytes=batch)
        results.append((_store(), _summary(first), _summary(again)))
    store_a, first_a, again_a = results[0]
    for store_b, first_b, again_b in results[1:]:
        assert first_a == first_b and again_a == again_b
        for table in TABLES:
            assert store_a[table] == store_b[table], table
    assert store_a["quarantine"] and store_a["raw_patients"] and store_a["raw_referrals"]


def _ingest_failing_at(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, practices: int,
                       failing: int, commit_batches: int) -> tuple[set[str], list[str], int]:
    """Ingest a drop of one-practice batches whose load breaks at practice `failing`; the
    practices left in the raw store, the drop's practices in order, and the runs recorded."""
    drop = tmp_path / "drop"
    generate_exports(drop, practices=practices, seed=7, months=3, now=NOW)
    slugs = sorted(p.name for p in drop.iterdir() if p.is_dir())
    real = ingest_module._load_kind

    def failing_load(connection: object, spec: object, rows: object, **kwargs: object) -> None:
        if spec is not PRACTICES:
            _, checked = rows  # type: ignore[misc]
            if slugs[failing] in set(checked.good.get_column("practice_slug").to_list()):
                raise RuntimeError("load broke")
        real(connection, spec, rows, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest_module, "INGEST_COMMIT_BATCHES", commit_batches)
    monkeypatch.setattr(ingest_module, "_load_kind", failing_load)
    with pytest.raises(RuntimeError, match="load broke"):
        ingest(drop, batch_bytes=1)  # one practice per batch
    with duckdb.connect(str(raw_db_path()), read_only=True) as conn:
        query = "select distinct practice_slug from raw_patients"
        loaded = {r[0] for r in conn.execute(query).fetchall()}
        runs = conn.execute("select count(*) from ingest_runs").fetchone()
    return loaded, slugs, int(runs[0]) if runs else 0


@pytest.mark.parametrize(("failing", "kept"), [(0, 0), (1, 1), (2, 1), (3, 3), (4, 3)])
def test_a_failure_while_loading_keeps_the_batches_committed_before_it(
    loopdesk_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: int, kept: int
) -> None:
    """Batches commit INGEST_COMMIT_BATCHES at a time: a failure while loading a batch rolls
    back that batch and the ones loaded since the last commit (their practices stay as they
    were), and keeps every batch committed before them. The groups are counted from the end (the
    last two batches are the last group): here 5 one-practice batches committed in twos are
    grouped 1 | 2-3 | 4-5, so a failure in the 1st keeps none, in the 2nd or 3rd the first, in
    the 4th or 5th the first 3."""
    loaded, slugs, runs = _ingest_failing_at(tmp_path, monkeypatch, practices=5, failing=failing,
                                             commit_batches=2)
    assert loaded == set(slugs[:kept])
    assert runs == 0


@pytest.mark.parametrize(("failing", "kept"), [(0, 0), (1, 1), (4, 1), (5, 5), (6, 5)])
def test_the_last_commit_holds_the_last_two_batches(
    loopdesk_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: int, kept: int
) -> None:
    """The commits fall every INGEST_COMMIT_BATCHES batches counted from the end, so the run's
    last commit holds the last two batches only: 7 one-practice batches committed in fours are
    grouped 1 | 2-5 | 6-7 (from the start they were 1-4 | 5-7)."""
    loaded, slugs, _ = _ingest_failing_at(tmp_path, monkeypatch, practices=7, failing=failing,
                                          commit_batches=4)
    assert loaded == set(slugs[:kept])


def _sized_practices(tmp_path: Path, sizes: dict[str, int]
                     ) -> tuple[dict[str, Plan], dict[str, list[FileCheck]]]:
    """One patients file of `size` bytes per practice, checked ok, and canonical plans."""
    checks = {}
    for slug, size in sizes.items():
        path = tmp_path / f"{slug}.csv"
        path.write_bytes(b"x" * size)
        checks[slug] = [FileCheck(practice=slug, spec=PATIENTS, path=path, status="ok")]
    return {slug: Plan(format="canonical") for slug in sizes}, checks


def test_batches_follow_the_byte_budget(tmp_path: Path) -> None:
    """Practices stay in order; a batch closes before it would pass the budget; a practice
    bigger than the budget is a batch of its own."""
    sizes = {"a": 4, "b": 4, "c": 12, "d": 3, "e": 3}
    plans, checks = _sized_practices(tmp_path, sizes)
    assert practice_batches(plans, checks, 8) == [["a", "b"], ["c"], ["d", "e"]]
    assert practice_batches(plans, checks, 1 << 20) == [list(sizes)]
    assert practice_batches(plans, checks, 1) == [[slug] for slug in sizes]


def test_a_bigger_drop_ends_with_a_small_batch(tmp_path: Path) -> None:
    """With `last_budget`, a drop bigger than one batch ends with a batch of the last practices
    within that budget (at least one practice), the others cut as before; a drop that fits one
    batch stays one batch."""
    sizes = {"a": 4, "b": 4, "c": 12, "d": 3, "e": 1, "f": 1}
    plans, checks = _sized_practices(tmp_path, sizes)
    assert practice_batches(plans, checks, 8) == [["a", "b"], ["c"], ["d", "e", "f"]]
    assert practice_batches(plans, checks, 8, last_budget=2) == [
        ["a", "b"], ["c"], ["d"], ["e", "f"]
    ]
    assert practice_batches(plans, checks, 8, last_budget=1) == [
        ["a", "b"], ["c"], ["d", "e"], ["f"]
    ]
    # The last practice alone is bigger than last_budget: it is the last batch by itself.
    assert practice_batches(plans, checks, 13, last_budget=0) == [
        ["a", "b"], ["c"], ["d", "e"], ["f"]
    ]
    assert practice_batches(plans, checks, 1 << 20, last_budget=2) == [list(sizes)]


def test_a_failure_while_preparing_a_later_batch_stops_the_run(
    loopdesk_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next batch is read and validated in a thread while this one loads: an error there
    reaches the caller, the batches loaded before it stay committed, nothing of the failed
    batch or any later one is written, and the run records no summary."""
    drop = tmp_path / "drop"
    generate_exports(drop, practices=5, seed=7, months=3, now=NOW)
    slugs = sorted(p.name for p in drop.iterdir() if p.is_dir())
    real = ingest_module.check_rows
    checked: list[str] = []

    def failing_on_the_third(rows: pl.DataFrame, spec: object, **kwargs: object) -> object:
        practices = set(rows.get_column("practice_slug").to_list())
        if spec is not PRACTICES:  # practices.csv is checked once, before the batches
            checked.extend(sorted(practices))
            if slugs[2] in practices:
                raise RuntimeError("validation broke")
        return real(rows, spec, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest_module, "check_rows", failing_on_the_third)
    # The first two batches are loaded but not yet committed when the third fails (5 batches
    # commit in fours counted from the end: 1-3 | 4-5): they are committed before the error.
    assert ingest_module.INGEST_COMMIT_BATCHES > 2
    with pytest.raises(RuntimeError, match="validation broke"):
        ingest(drop, batch_bytes=1)  # one practice per batch
    with duckdb.connect(str(raw_db_path()), read_only=True) as conn:
        query = "select distinct practice_slug from raw_patients"
        loaded = {r[0] for r in conn.execute(query).fetchall()}
        runs = conn.execute("select count(*) from ingest_runs").fetchone()
    assert loaded == set(slugs[:2])
    assert runs == (0,)
    assert slugs[3] not in checked  # the thread stopped at the failed batch


def test_the_preparing_thread_reads_the_callers_pinned_clock(loopdesk_home: Path) -> None:
    """The simulator pins `now()` for its thread (a context variable): the batches validated
    in the preparing thread judge "in the future" and stamp `_loaded_at` by that clock, not
    by the process's."""
    drop = write_drop(loopdesk_home.parent / "drop", files={"alpha": healthy()})
    at = datetime(2026, 10, 15, 12, 0, tzinfo=UTC)  # before the treatment and the referral
    with pinned(at):
        summary = ingest(drop)
    with duckdb.connect(str(raw_db_path()), read_only=True) as conn:
        reasons = conn.execute(
            "select file, reason from quarantine where practice_slug = 'alpha' order by file"
        ).fetchall()
        stamps = conn.execute("select distinct _loaded_at from raw_patients").fetchall()
    future = "is in the future"
    assert reasons == [("referrals.csv", future), ("treatments.csv", future)]
    assert stamps == [(at,)]
    assert summary.totals()["quarantined"] == 2

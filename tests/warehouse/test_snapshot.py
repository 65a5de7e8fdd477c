"""Atomic snapshot publishing: failures and kills leave the previous snapshot serving."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from pipelines.build import run_build
from tests.warehouse import rawdata as rd
from warehouse import paths, snapshot
from warehouse.data_checks import Check, ChecksFailed
from warehouse.raw_store import OpsEventsRejected
from warehouse.runner import Model, ModelFailed, ModelRun, discover_models
from warehouse.snapshot import (
    BuildInProgress,
    SnapshotMissing,
    _build_lock,
    _copy_file,
    current_snapshot_path,
    open_snapshot,
    publish_snapshot,
    reading_snapshot,
)

REPO = Path(__file__).resolve().parents[2]


def _build_id() -> str:
    with reading_snapshot() as conn:
        row = conn.execute("select build_id from build_params").fetchone()
    assert row is not None
    return str(row[0])


def _leftovers() -> list[str]:
    return sorted(p.name for p in paths.snapshots_dir().iterdir() if p.name.startswith("building-"))


@pytest.fixture
def built(loopdesk_home: Path) -> str:
    """A raw store with one patient and a first published snapshot; returns its build id."""
    with rd.raw_store() as conn:
        rd.practice(conn)
        rd.patient(conn, "pat1")
        rd.treatment(conn, "t1", "pat1")
    return publish_snapshot(as_of=rd.AS_OF).build_id


def test_no_snapshot_yet_is_a_clear_error(loopdesk_home: Path) -> None:
    """Before the first build, readers get SnapshotMissing, not a DuckDB error."""
    with pytest.raises(SnapshotMissing, match="loopdesk build"):
        open_snapshot()


def test_published_snapshot_is_current_and_read_only(built: str) -> None:
    """CURRENT names the new file; the reader sees its data and cannot write."""
    path = current_snapshot_path()
    assert path is not None and built in path.name
    assert paths.current_pointer_path().read_text().strip() == path.name
    assert path.stat().st_mode & 0o077 == 0
    with reading_snapshot() as conn:
        assert conn.execute("select count(*) from mart_treatments").fetchone() == (1,)
        with pytest.raises(duckdb.Error):
            conn.execute("create table intruder as select 1")


def test_failing_model_midway_leaves_previous_snapshot(built: str) -> None:
    """A model that raises aborts the build: CURRENT unchanged, old data readable, no leftovers."""
    before = paths.current_pointer_path().read_text()
    files_before = sorted(p.name for p in paths.snapshots_dir().iterdir())
    boom = Model(name="mart_zz_boom", layer="marts", sql="select error('boom') as x")
    with pytest.raises(ModelFailed, match="mart_zz_boom"):
        publish_snapshot(as_of=rd.AS_OF, models=[*discover_models(), boom])
    assert paths.current_pointer_path().read_text() == before
    assert sorted(p.name for p in paths.snapshots_dir().iterdir()) == files_before
    assert _build_id() == built


def test_failing_check_names_check_and_keys_never_names(built: str) -> None:
    """A failing check fails the build, names itself and sample keys, but no patient names."""
    nosy = Check(
        name="patients_named_ada", sql="select * from mart_patients where first_name = 'Ada'"
    )
    with pytest.raises(ChecksFailed) as caught:
        publish_snapshot(as_of=rd.AS_OF, checks=[nosy])
    message = str(caught.value)
    assert "patients_named_ada" in message and "patient_id=pat1" in message
    for secret in ("Ada", "Lovelace", "+1312", "ada@example.com"):
        assert secret not in message
    assert _build_id() == built
    assert _leftovers() == []


def test_reader_works_while_a_new_build_runs(built: str) -> None:
    """Midway through a build, a reader still gets the previous snapshot's data."""
    seen: list[tuple[str, int]] = []

    def read_old(run: ModelRun) -> None:
        if run.name == "mart_treatments":
            with reading_snapshot() as conn:
                row = conn.execute(
                    "select (select build_id from build_params), count(*) from mart_treatments"
                ).fetchone()
            assert row is not None
            seen.append((str(row[0]), int(row[1])))

    new = publish_snapshot(as_of=rd.AS_OF, after_model=read_old)
    assert seen == [(built, 1)]
    assert _build_id() == new.build_id != built


def test_killed_build_leaves_previous_snapshot_and_next_build_cleans_up(built: str) -> None:
    """A build killed midway (os._exit) leaves CURRENT and the old file; the next build tidies."""
    before = paths.current_pointer_path().read_text()
    script = textwrap.dedent(
        """
        import os
        from datetime import UTC, datetime
        from warehouse.snapshot import publish_snapshot

        def die(run):
            if run.name == "mart_patients":
                os._exit(9)

        publish_snapshot(as_of=datetime(2026, 11, 26, 15, tzinfo=UTC), after_model=die)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, check=False)
    assert result.returncode == 9
    assert paths.current_pointer_path().read_text() == before
    assert _leftovers() != []
    assert _build_id() == built
    publish_snapshot(as_of=rd.AS_OF)
    assert _leftovers() == []


def test_keeps_only_the_newest_snapshots(built: str) -> None:
    """After five builds only the three newest files remain, the newest current."""
    for _ in range(4):
        last = publish_snapshot(as_of=rd.AS_OF)
    files = sorted(p.name for p in paths.snapshots_dir().glob("snapshot-*.duckdb"))
    assert len(files) == 3
    assert current_snapshot_path() == last.path
    assert files[-1] == last.path.name


def test_concurrent_build_is_refused(built: str) -> None:
    """While one build holds the lock, another is refused instead of interleaving."""
    with _build_lock(), pytest.raises(BuildInProgress):
        publish_snapshot(as_of=rd.AS_OF)


def test_ops_events_round_trip_and_replace_wholesale(built: str) -> None:
    """Given ops tables replace their previous copy; omitted ones are kept; unknown ones refused."""
    tasks = [
        {
            "task_id": n,
            "kind": "ask",
            "practice_slug": "p1",
            "patient_id": "pat1",
            "treatment_id": "t1",
            "created_at": rd.days_ago(1),
            "sla_deadline": rd.days_ago(-6),
            "status": "open",
        }
        for n in (1, 2)
    ]
    touch = rd.call_touch(5, "pat1", disposition="no_answer", at=rd.days_ago(1), task_id=1)
    run_build(
        ops_events={
            "ops_tasks": rd.ops_table("ops_tasks", tasks),
            "ops_touches": rd.ops_table("ops_touches", [touch]),
        }
    )
    with reading_snapshot() as conn:
        got = conn.execute(
            "select task_id, kind, patient_id, treatment_id, created_at, sla_deadline, status "
            "from stg_ops__tasks order by task_id"
        ).fetchall()
    assert got == [
        (n, "ask", "pat1", "t1", rd.days_ago(1), rd.days_ago(-6), "open") for n in (1, 2)
    ]
    run_build(ops_events={"ops_tasks": rd.ops_table("ops_tasks", tasks[:1])})
    with reading_snapshot() as conn:
        assert conn.execute("select count(*) from stg_ops__tasks").fetchone() == (1,)
        assert conn.execute("select count(*) from stg_ops__touches").fetchone() == (1,)
    with pytest.raises(OpsEventsRejected, match="ops_nonsense"):
        run_build(ops_events={"ops_nonsense": rd.ops_table("ops_tasks", [])})


def test_run_build_summary_uses_the_clock(built: str) -> None:
    """run_build defaults as_of to the pinned clock and reports rows per model and checks run."""
    result = run_build()
    assert result.as_of == rd.AS_OF
    assert result.model_rows["mart_treatments"] == 1
    assert result.model_rows["mart_ask_candidates"] == 1
    assert "unique_mart_leads" in result.checks_run
    assert result.to_json()["build_id"] == result.build_id
    assert current_snapshot_path() == result.snapshot_path


def test_a_build_only_for_some_tables_makes_them_and_what_they_read(built: str) -> None:
    """Inside `building_only_for`, a build makes only the named tables and the models they
    read (the rest are not published), runs no check (not even a failing one) and writes no
    contact index; outside it, the next build makes everything again."""
    from warehouse.contacts import index_path
    from warehouse.snapshot import building_only_for

    nosy = Check(
        name="patients_named_ada", sql="select * from mart_patients where first_name = 'Ada'"
    )
    with building_only_for({"mart_patients"}):
        published = publish_snapshot(as_of=rd.AS_OF, checks=[nosy])
    made = {run.name for run in published.models}
    assert "mart_patients" in made and "int_patients" in made
    assert not made & {"mart_ask_candidates", "mart_leads", "mart_sla_tasks"}
    assert published.checks == ()
    assert not index_path(published.path).exists()
    with reading_snapshot() as conn:
        assert conn.execute("select count(*) from mart_patients").fetchone() == (1,)
        tables = {row[0] for row in conn.execute(
            "select table_name from information_schema.tables").fetchall()}
    assert "mart_sla_tasks" not in tables
    again = publish_snapshot(as_of=rd.AS_OF)
    assert "mart_sla_tasks" in {run.name for run in again.models}
    assert index_path(again.path).exists() and again.checks


def test_a_full_build_after_a_previous_snapshot_starts_from_an_empty_file(built: str) -> None:
    """The previous snapshot is copied while the build is planned; a build that turns out full
    (the models changed) discards that copy: a model dropped since is not published."""
    extra = Model(name="mart_zz_extra", layer="marts", sql="select 1 as x")
    with_extra = publish_snapshot(as_of=rd.AS_OF, models=[*discover_models(), extra])
    assert with_extra.mode == "full"
    without = publish_snapshot(as_of=rd.AS_OF)
    assert without.mode == "full"
    with reading_snapshot() as conn:
        listed = conn.execute("select table_name from duckdb_tables()").fetchall()
    tables = {row[0] for row in listed}
    assert "mart_zz_extra" not in tables and "mart_treatments" in tables
    assert _leftovers() == []


@pytest.mark.parametrize("size", [0, 4096, 10_000, 3 * 4096 + 17, (8 << 20) + 5])
def test_the_snapshot_copy_is_byte_for_byte_and_private(tmp_path: Path, size: int) -> None:
    """The copy an incremental build patches (written past the page cache where the file
    system allows it, its unaligned tail buffered) equals the source and is mode 0600."""
    source = tmp_path / "source.duckdb"
    source.write_bytes(os.urandom(size))
    target = tmp_path / "target.duckdb"
    _copy_file(source, target)
    assert target.read_bytes() == source.read_bytes()
    assert target.stat().st_mode & 0o777 == 0o600


def test_the_snapshot_copy_falls_back_without_direct_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file system that refuses O_DIRECT (tmpfs) gets the usual copy, same bytes, 0600."""
    source = tmp_path / "source.duckdb"
    source.write_bytes(os.urandom(9_000))

    def refuse(*_: object) -> None:
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(snapshot, "_copy_direct", refuse)
    target = tmp_path / "target.duckdb"
    _copy_file(source, target)
    assert target.read_bytes() == source.read_bytes()
    assert target.stat().st_mode & 0o777 == 0o600

"""Atomic snapshot publishing: build a new DuckDB file, check it, then swap the CURRENT pointer."""

from __future__ import annotations

import contextlib
import contextvars
import fcntl
import mmap
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from warehouse import paths
from warehouse.chunks import (
    CHUNK_ROWS,
    chunkable,
    plan_chunks,
    practice_sizes,
    run_models_chunked,
)
from warehouse.contacts import contacts_query, index_path, legacy_index_paths, write_index
from warehouse.data_checks import Check, CheckRun, discover_checks, key_checks, run_checks
from warehouse.incremental import (
    IN_TOUCHED,
    BuildPlan,
    UnpublishedCounts,
    incremental_checks,
    plan_build,
    run_models_incremental,
    write_state,
)
from warehouse.pointer import SNAPSHOT_NAME as _SNAPSHOT
from warehouse.pointer import SnapshotMissing, current_snapshot_path
from warehouse.raw_store import prepare_raw_store
from warehouse.rules import PracticeCalendar
from warehouse.runner import (
    BuildParams,
    Model,
    ModelRun,
    create_build_params,
    discover_models,
    references,
)
from warehouse.runner import run_models as _run_models

if TYPE_CHECKING:  # readers (the console, `inbound`) never need pyarrow: keep them fast
    import pyarrow as pa

KEEP_SNAPSHOTS = 3
# DuckDB would take up to 80 % of the machine; with a ceiling its joins and sorts spill to a
# temp folder beside the snapshot instead, so a build's peak stays flat as practices grow.
BUILD_MEMORY_LIMIT = "1GB"
_BUILDING_PREFIX = "building-"


# The tables the builds of this context are for (`building_only_for`); None: everything.
_ONLY_FOR: contextvars.ContextVar[frozenset[str] | None] = contextvars.ContextVar(
    "building_only_for", default=None)


@contextlib.contextmanager
def building_only_for(tables: Collection[str] | None) -> Iterator[None]:
    """Builds in this block (this thread/context) materialise only `tables` and the models
    they read, and run no data checks and write no contact index (None: everything, as
    outside the block). For a caller that reads nothing else of its snapshots: the
    simulator's nightly builds (console/simulation/engine.py; docs/simulation.md, "The
    nightly build"). The models built are the same SQL over the same rows, so the tables it
    reads are the same; what it gives up is a failing check stopping the build."""
    token = _ONLY_FOR.set(None if tables is None else frozenset(tables))
    try:
        yield
    finally:
        _ONLY_FOR.reset(token)


def _needed(models: Sequence[Model], tables: Collection[str]) -> list[Model]:
    """`models` that `tables` read, directly or through others (and `tables` themselves)."""
    names = [model.name for model in models]
    by_name = {model.name: model for model in models}
    needed: set[str] = set()
    pending = [name for name in tables if name in by_name]
    while pending:
        name = pending.pop()
        if name not in needed:
            needed.add(name)
            pending.extend(references(by_name[name], names))
    return [model for model in models if model.name in needed]


class BuildInProgress(RuntimeError):
    """Another build holds the warehouse build lock."""


@dataclass(frozen=True)
class PublishedSnapshot:
    """What a successful build published."""

    build_id: str
    path: Path
    as_of: datetime
    models: tuple[ModelRun, ...]
    checks: tuple[CheckRun, ...]
    ops_rows: Mapping[str, int]
    seconds: float
    mode: str = "full"  # or "incremental"
    touched: tuple[str, ...] = ()  # practices an incremental build rebuilt


def open_snapshot() -> duckdb.DuckDBPyConnection:
    """A read-only connection to the current snapshot (times in UTC); SnapshotMissing if none."""
    path = current_snapshot_path()
    if path is None or not path.exists():
        raise SnapshotMissing("no warehouse snapshot yet: run `loopdesk build` first")
    conn = duckdb.connect(str(path), read_only=True)
    conn.execute("set TimeZone = 'UTC'")
    return conn


@contextlib.contextmanager
def reading_snapshot() -> Iterator[duckdb.DuckDBPyConnection]:
    """The current snapshot for the length of a `with` block, closed afterwards."""
    conn = open_snapshot()
    try:
        yield conn
    finally:
        conn.close()


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    """Hold the warehouse build lock; a second concurrent build is refused, not interleaved."""
    lock_path = paths.warehouse_dir() / "build.lock"
    with open(lock_path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BuildInProgress("another warehouse build is running") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _published() -> list[Path]:
    """Published snapshot files, oldest first."""
    found = [p for p in paths.snapshots_dir().iterdir() if _SNAPSHOT.match(p.name)]
    return sorted(found, key=lambda p: p.name)


def _remove(path: Path) -> None:
    """Delete a snapshot file, its write-ahead log and its contact index (of this version or
    an older one), if present."""
    index = (index_path(path), *legacy_index_paths(path))
    for candidate in (path, path.with_name(path.name + ".wal"), *index):
        candidate.unlink(missing_ok=True)


def _remove_abandoned_builds() -> None:
    """Delete half-built files a killed build left behind (safe: we hold the build lock)."""
    for path in paths.snapshots_dir().glob(f"{_BUILDING_PREFIX}*"):
        path.unlink(missing_ok=True)


def _next_name() -> tuple[str, str]:
    """The next snapshot's build id and file name (sequence keeps names ordered by age)."""
    matches = [_SNAPSHOT.match(path.name) for path in _published()]
    last = max((int(match.group("seq")) for match in matches if match), default=0)
    build_id = f"{last + 1:08d}-{secrets.token_hex(4)}"
    return build_id, f"snapshot-{build_id}.duckdb"


def _write_pointer(name: str) -> None:
    """Point CURRENT at a snapshot file atomically (temp file, fsync, os.replace)."""
    pointer = paths.current_pointer_path()
    temp = pointer.with_name(f".CURRENT.{secrets.token_hex(4)}.tmp")
    with open(temp, "w", encoding="utf-8") as handle:
        handle.write(name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, pointer)
    _fsync_dir(pointer.parent)


def _fsync_dir(folder: Path) -> None:
    """Make a rename in this folder durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prune(keep: int) -> None:
    """Delete all but the newest `keep` snapshots, never the current one."""
    current = current_snapshot_path()
    published = _published()
    for path in published[: max(len(published) - keep, 0)]:
        if path != current:
            _remove(path)


def _materialise(
    target: Path,
    *,
    params: BuildParams,
    models: Sequence[Model],
    checks: Sequence[Check],
    after_model: Callable[[ModelRun], None] | None,
    plan: BuildPlan,
    previous: Path | None,
    chunk_rows: int = CHUNK_ROWS,
    extras: bool = True,
    copy: _PreviousCopy | None = None,
) -> tuple[list[ModelRun], list[CheckRun]]:
    """Run models and checks into a fresh DuckDB file — or, for an incremental build, into a
    copy of the previous snapshot (`copy`'s, once finished, else made here; a full build
    discards `copy`'s) — and close it (raises on any failure). A full build of more
    than `chunk_rows` raw rows runs the partitioned models a range of practices at a time.
    Without `extras` (`building_only_for`) no check runs and no contact index is written."""
    incremental = plan.mode == "incremental" and previous is not None
    if copy is not None:
        copy.wait()
        if not incremental:
            target.unlink(missing_ok=True)  # a full build starts from an empty file
    elif incremental and previous is not None:
        shutil.copyfile(previous, target)
    conn = duckdb.connect(str(target), config={"memory_limit": BUILD_MEMORY_LIMIT})
    try:
        conn.execute("set TimeZone = 'UTC'")
        # Tables are sets: not keeping scan order lets CTAS run in parallel with less memory.
        conn.execute("set preserve_insertion_order = false")
        raw_path = str(paths.raw_db_path()).replace("'", "''")
        conn.execute(f"attach '{raw_path}' as raw (read_only)")
        if incremental:
            _begin_one_transaction(conn)
        create_build_params(conn, params)
        all_checks = [*key_checks(models), *checks] if extras else []
        if incremental and previous is not None:
            model_runs, counts = run_models_incremental(conn, models, plan, after_model=after_model)
            check_runs = run_checks(conn, incremental_checks(all_checks, models, plan))
            if extras:
                _write_contacts(conn, target, previous, plan)
        else:
            counter = UnpublishedCounts()
            # The contact index (for `inbound`, which never loads DuckDB) needs mart_patients
            # only: it is written beside the models that follow it and the checks.
            index = _IndexWriter(conn, index_path(target) if extras else None, after_model)
            # A big store is built a range of practices at a time (warehouse/chunks.py).
            chunks = plan_chunks(practice_sizes(conn), chunk_rows) if chunkable(models) else []
            try:
                if chunks:
                    model_runs, check_runs = run_models_chunked(
                        conn, models, all_checks, chunks,
                        counter=counter, after_model=index.after_model,
                    )
                else:
                    model_runs = _run_models(
                        conn,
                        models,
                        after_model=index.after_model,
                        count_rows=counter,
                        keep=_read_by_checks(models, all_checks),
                    )
                    check_runs = run_checks(conn, all_checks)
            except BaseException:
                index.abandon()
                raise
            index.finish()
            counts = counter.counts
        write_state(conn, replace(plan.state, counts=counts))
        if incremental:
            conn.execute("commit")  # with the threshold above: the checkpoint, no WAL
        conn.execute("detach raw")
        conn.execute("checkpoint")
    finally:
        conn.close()
    return model_runs, check_runs


_COPY_CHUNK = 8 << 20  # bytes per read of a copy that bypasses the page cache
_DIRECT_ALIGN = 4096  # O_DIRECT writes must be whole blocks (the tail is written buffered)


def _copy_file(source: Path, target: Path) -> None:
    """Copy `source` to `target` (mode 0600), writing straight to disk (`O_DIRECT`) where the
    file system allows it, else through the page cache (`shutil.copyfile`). On this kind of
    virtual machine the page-cache copy of a 190 MB snapshot cost 0.05-0.5 CPU-s of kernel
    time, most of it allocating fresh pages for the copy; the direct one 0.03-0.04."""
    try:
        _copy_direct(source, target)
    except OSError:  # no O_DIRECT here (tmpfs, some network file systems): the usual copy
        target.unlink(missing_ok=True)
        shutil.copyfile(source, target)
        os.chmod(target, 0o600)


def _copy_direct(source: Path, target: Path) -> None:
    buffer = mmap.mmap(-1, _COPY_CHUNK)  # page-aligned, as O_DIRECT needs
    view = memoryview(buffer)
    src = os.open(source, os.O_RDONLY)
    try:
        dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DIRECT, 0o600)
        try:
            while read := os.readv(src, [buffer]):
                if read % _DIRECT_ALIGN:  # the file's unaligned tail: written buffered
                    flags = fcntl.fcntl(dst, fcntl.F_GETFL)
                    fcntl.fcntl(dst, fcntl.F_SETFL, flags & ~os.O_DIRECT)
                written = 0
                while written < read:
                    written += os.write(dst, view[written:read])
        finally:
            os.close(dst)
    finally:
        os.close(src)
        view.release()
        buffer.close()


class _PreviousCopy:
    """The previous snapshot copied to the file an incremental build patches, in a thread
    started before the build is planned: the copy (~190 MB at 1,000 practices, kernel time
    that holds no GIL) runs beside `plan_build`'s scans of the raw store instead of after
    them, and its pages are then written to disk (`fdatasync`) while the models run, so the
    build's closing checkpoint flushes only what the build changed instead of the whole
    copy. A build that turns out full waits for it and deletes the copy (a few tenths of a
    second of a build that takes tens of seconds)."""

    def __init__(self, source: Path, target: Path) -> None:
        self._source, self._target = source, target
        self._error: BaseException | None = None
        self._copied = threading.Event()
        self._thread = threading.Thread(target=self._copy, name="snapshot-copy")
        self._thread.start()

    def _copy(self) -> None:
        try:
            _copy_file(self._source, self._target)
        except BaseException as exc:  # re-raised on the build's thread by wait()
            self._error = exc
            return
        finally:
            self._copied.set()
        try:
            fd = os.open(self._target, os.O_RDONLY)
        except OSError:  # a full build deleted it already
            return
        try:
            os.fdatasync(fd)  # durability still comes from the checkpoint's own sync
        except OSError:
            pass
        finally:
            os.close(fd)

    def wait(self) -> None:
        """Block until the copy is made (its flush may still run); re-raise what copying
        raised."""
        self._copied.wait()
        if self._error is not None:
            raise self._error

    def join(self) -> None:
        """Block until the thread is done, the flush too."""
        self._thread.join()


def _begin_one_transaction(conn: duckdb.DuckDBPyConnection) -> None:
    """An incremental build's ~190 statements as one transaction whose commit is the
    checkpoint. In autocommit each statement committed on its own: a WAL write and an fsync
    apiece (48 of them per one-practice drop), then the closing checkpoint wrote it all again.
    Nothing is lost for durability: the half-built file is never read (it is deleted unless it
    is published), and the commit's checkpoint fsyncs the file before it is renamed and
    CURRENT is pointed at it, as the closing checkpoint did."""
    # Above this size a commit checkpoints the database instead of appending to the WAL.
    conn.execute("set checkpoint_threshold = '1KB'")
    conn.execute("begin transaction")


def _read_by_checks(models: Sequence[Model], checks: Sequence[Check]) -> set[str]:
    """The models the checks read (their temp tables must outlive the models)."""
    names = [model.name for model in models]
    found: set[str] = set()
    for check in checks:
        found |= references(Model(name="_check", layer="marts", sql=check.sql), names)
    return found


class _IndexWriter:
    """Writes a full build's contact index in a thread on its own cursor of the build
    connection, started once `mart_patients` is built: sorting 3 M contacts and feeding them
    to SQLite (Python rows, most of the index's cost) overlaps with the later models and the
    checks, which run inside DuckDB without the GIL. If the build fails the thread is joined
    and the half-written file removed with the snapshot."""

    SOURCE = "mart_patients"

    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        target: Path | None,
        after_model: Callable[[ModelRun], None] | None,
    ) -> None:
        self._conn = conn
        self._target = target
        self._after_model = after_model
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def after_model(self, run: ModelRun) -> None:
        """`run_models`' hook: start the index once its source exists, then the caller's."""
        if run.name == self.SOURCE and self._thread is None and self._target is not None:
            self._thread = threading.Thread(target=self._write, name="contact-index")
            self._thread.start()
        if self._after_model is not None:
            self._after_model(run)

    def _write(self) -> None:
        if self._target is None:  # no index wanted (`building_only_for`)
            return
        cursor = self._conn.cursor()
        try:
            write_index(cursor, self._target)
        except BaseException as exc:  # re-raised on the build's thread by finish()
            self._error = exc
        finally:
            cursor.close()

    def finish(self) -> None:
        """Wait for the index (or write it now, if the models have no mart_patients);
        re-raise what writing it raised."""
        if self._thread is None:
            self._write()
        else:
            self._thread.join()
        if self._error is not None:
            raise self._error

    def abandon(self) -> None:
        """The build failed: wait for the thread so nothing writes the file after removal."""
        if self._thread is not None:
            self._thread.join()


def _write_contacts(
    conn: duckdb.DuckDBPyConnection, target: Path, previous: Path, plan: BuildPlan
) -> None:
    """The contact index of an incremental build: the previous one when the touched practices'
    contacts are unchanged (a second link to the same file: published indexes are never
    written again), else a fresh one from the whole of the new mart_patients (a sorted file
    cannot be patched in place; writing it is one DuckDB sort, ~1 CPU-s at 1,000 practices)."""
    reusable = "mart_patients" in plan.partitioned and index_path(previous).exists()
    if reusable and _same_contacts(conn, previous):
        try:
            os.link(index_path(previous), index_path(target))
        except OSError:  # a file system without hard links: copy
            shutil.copyfile(index_path(previous), index_path(target))
            os.chmod(index_path(target), 0o600)
        return
    write_index(conn, index_path(target))


def _same_contacts(conn: duckdb.DuckDBPyConnection, previous: Path) -> bool:
    """Whether the touched practices' contacts in the previous snapshot equal the rebuilt slice's
    (a daily drop seldom changes a phone or an email)."""
    quoted = str(previous).replace("'", "''")
    conn.execute(f"attach '{quoted}' as _previous (read_only)")
    try:
        before = contacts_query(f"(select * from _previous.mart_patients where {IN_TOUCHED})")
        after = contacts_query("_slice__mart_patients")
        found = conn.execute(
            f"select (select count(*) from (({before}) except all ({after}))) "
            f"+ (select count(*) from (({after}) except all ({before})))"
        ).fetchone()
    finally:
        conn.execute("detach _previous")
    return found == (0,)


def publish_snapshot(
    *,
    as_of: datetime,
    ops_events: Mapping[str, pa.Table] | None = None,
    models: Sequence[Model] | None = None,
    checks: Sequence[Check] | None = None,
    keep: int = KEEP_SNAPSHOTS,
    after_model: Callable[[ModelRun], None] | None = None,
    full: bool = False,
    calendars: Mapping[str, PracticeCalendar] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> PublishedSnapshot:
    """Copy ops events into the raw store, build + check a new snapshot, then publish it atomically.

    Any failure (or a kill) before the pointer swap leaves CURRENT and the previous snapshot as
    they were; the half-built file is removed (or, after a kill, by the next build). Unless
    `full`, a build whose models, checks and parameters match the previous snapshot's rebuilds
    only the practices whose rows changed (warehouse/incremental.py). `calendars` are the
    practices' own open days and SLA lengths (others get DOMAIN.md's). A full build of more than
    `chunk_rows` raw rows (patients, treatments, referrals) runs the practice-partitioned models
    a range of practices at a time (warehouse/chunks.py).
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    started = time.perf_counter()
    with _build_lock():
        _remove_abandoned_builds()
        ops_rows = prepare_raw_store(paths.raw_db_path(), ops_events)
        build_id, name = _next_name()
        building = paths.snapshots_dir() / f"{_BUILDING_PREFIX}{name}"
        final = paths.snapshots_dir() / name
        params = BuildParams(as_of=as_of, build_id=build_id, calendars=calendars or {})
        chosen_models = discover_models() if models is None else list(models)
        chosen_checks = discover_checks() if checks is None else list(checks)
        only = _ONLY_FOR.get()
        if only is not None:
            chosen_models, chosen_checks = _needed(chosen_models, only), []
        previous = current_snapshot_path()
        if previous is not None and not previous.exists():
            previous = None
        copy = None
        try:
            if previous is not None and not full:
                copy = _PreviousCopy(previous, building)
            plan = plan_build(
                raw_path=paths.raw_db_path(),
                previous=previous,
                models=chosen_models,
                checks=chosen_checks,
                params=params,
                full=full,
            )
            model_runs, check_runs = _materialise(
                building,
                params=params,
                models=chosen_models,
                checks=chosen_checks,
                after_model=after_model,
                plan=plan,
                previous=previous,
                chunk_rows=chunk_rows,
                extras=only is None,
                copy=copy,
            )
            if copy is not None:
                copy.join()
            os.chmod(building, 0o600)  # patient data: readable by the service account only
            os.replace(building, final)
            if index_path(building).exists():
                os.replace(index_path(building), index_path(final))
        except BaseException:
            if copy is not None:
                copy.join()  # nothing may write the file after it is removed
            _remove(building)
            raise
        _write_pointer(name)
        _prune(keep)
    return PublishedSnapshot(
        build_id=build_id,
        path=final,
        as_of=as_of,
        models=tuple(model_runs),
        checks=tuple(check_runs),
        ops_rows=dict(ops_rows),
        seconds=time.perf_counter() - started,
        mode=plan.mode,
        touched=plan.touched if plan.mode == "incremental" else (),
    )

"""The published warehouse snapshot as the console reads it: NoData before the first build.

One read-only DuckDB connection per process and published snapshot, shared by every reader:
each `snapshot()` block reads through its own cursor (DuckDB's per-thread handle on the same
database), so the console's reruns no longer open and close the file (and start with a cold
buffer pool) on every card. When a build publishes a new snapshot, the next block opens it;
the previous connection is closed once its last block has finished.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from console.platform.errors import UserError


class NoData(UserError):
    """No warehouse snapshot has been published yet."""

    def __init__(self) -> None:
        super().__init__("no data yet: run `loopdesk build` (or `loopdesk demo`) first")


@dataclass
class _Shared:
    """The process's connection to one published snapshot and how many blocks use it."""

    file: tuple[str, int, int, int]  # path, inode, size, mtime: a file replaced in place reopens
    conn: duckdb.DuckDBPyConnection
    users: int = 0
    retired: bool = False


_LOCK = threading.Lock()
_CURRENT: _Shared | None = None


def _take(path: Path) -> _Shared:
    """The shared connection to `path` (opened if it is not the current one), one more user."""
    global _CURRENT
    with _LOCK:
        stat = path.stat()
        file = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)
        shared = _CURRENT
        if shared is None or shared.file != file:
            conn = duckdb.connect(str(path), read_only=True)
            # Every cursor reads times in UTC (warehouse.snapshot.open_snapshot's setting).
            conn.execute("set global TimeZone = 'UTC'")
            fresh = _Shared(file=file, conn=conn)
            if shared is not None:
                shared.retired = True
                if shared.users == 0:
                    shared.conn.close()
            _CURRENT = shared = fresh
        shared.users += 1
        return shared


def _give_back(shared: _Shared) -> None:
    with _LOCK:
        shared.users -= 1
        if shared.retired and shared.users == 0:
            shared.conn.close()


@contextmanager
def snapshot() -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the current snapshot; NoData before the first build."""
    from warehouse.pointer import SnapshotMissing, current_snapshot_path

    try:
        path = current_snapshot_path()
        if path is None:
            raise SnapshotMissing("no warehouse snapshot yet: run `loopdesk build` first")
        shared = _take(path.resolve())
    except (SnapshotMissing, FileNotFoundError) as error:
        raise NoData() from error
    try:
        cursor = shared.conn.cursor()
        try:
            yield cursor
        finally:
            cursor.close()
    finally:
        _give_back(shared)

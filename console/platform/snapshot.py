"""The published warehouse snapshot as the console reads it: NoData before the first build."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from console.platform.errors import UserError


class NoData(UserError):
    """No warehouse snapshot has been published yet."""

    def __init__(self) -> None:
        super().__init__("no data yet: run `loopdesk build` (or `loopdesk demo`) first")


@contextmanager
def snapshot() -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the current snapshot; NoData before the first build."""
    from warehouse.snapshot import SnapshotMissing, open_snapshot

    try:
        conn = open_snapshot()
    except SnapshotMissing as error:
        raise NoData() from error
    try:
        yield conn
    finally:
        conn.close()

"""Which snapshot is current: the CURRENT pointer, read without loading DuckDB.

Split from `warehouse.snapshot` so that `loopdesk inbound` (run once per SMS by a webhook)
finds the current snapshot and its contact index without importing DuckDB.
"""

from __future__ import annotations

import re
from pathlib import Path

from warehouse import paths

SNAPSHOT_NAME = re.compile(r"^snapshot-(?P<seq>\d{8})-(?P<tag>[0-9a-f]{8})\.duckdb$")


class SnapshotMissing(RuntimeError):
    """No snapshot has been published yet (run `loopdesk build`), or its file is gone."""


def current_snapshot_path() -> Path | None:
    """The published snapshot CURRENT names, or None before the first build."""
    pointer = paths.current_pointer_path()
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if not SNAPSHOT_NAME.match(name):
        raise SnapshotMissing(f"{pointer} does not name a snapshot file")
    return paths.snapshots_dir() / name

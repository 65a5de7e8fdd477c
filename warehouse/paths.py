"""Where the warehouse lives on disk."""

from __future__ import annotations

from pathlib import Path

from loopdesk_core.home import make_private
from loopdesk_core.settings import get_settings


def warehouse_dir() -> Path:
    """The warehouse folder under the data home (created on demand)."""
    settings = get_settings()
    path = settings.warehouse_dir
    path.mkdir(parents=True, exist_ok=True)
    make_private(settings.resolved_home)  # an old home made under umask 022 is tightened
    return path


def raw_db_path() -> Path:
    """The raw store written by ingest and by the operational-event export."""
    return warehouse_dir() / "raw.duckdb"


def snapshots_dir() -> Path:
    """Folder of published, read-only snapshot files."""
    path = warehouse_dir() / "snapshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def current_pointer_path() -> Path:
    """The file naming the current snapshot; replaced atomically on publish."""
    return warehouse_dir() / "CURRENT"

"""One generated world written in each source format, ingested and built in its own home."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from tests.worlds import FIXED_NOW, point_at_home


@dataclass(frozen=True)
class Built:
    """A home built from one format's drop: its ingest summary and where its stores are."""

    format: str
    home: Path
    summary: dict[str, object]

    def marts(self, sql: str) -> list[tuple[object, ...]]:
        """Rows of a query against the published snapshot."""
        from warehouse.snapshot import current_snapshot_path

        with pytest.MonkeyPatch.context() as patch:
            point_at_home(patch, self.home)
            path = current_snapshot_path()
        assert path is not None
        with duckdb.connect(str(path), read_only=True) as conn:
            return sorted(conn.execute(sql).fetchall(), key=repr)

    def store(self, sql: str) -> list[tuple[object, ...]]:
        """Rows of a query against the operational store (SQLite)."""
        with sqlite3.connect(self.home / "loopdesk.db") as conn:
            return sorted(conn.execute(sql).fetchall(), key=repr)


def build_format(root: Path, fmt: str, *, practices: int, seed: int, months: int) -> Built:
    """Generate `fmt` into root/fmt, ingest and build it in root/fmt-home."""
    from console.lifecycle.build import build_everything
    from pipelines.generate import generate_exports
    from pipelines.ingest import ingest

    now = datetime.fromisoformat(FIXED_NOW)
    home = root / f"{fmt}-home"
    home.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        point_at_home(patch, home)
        drop = root / fmt
        generate_exports(drop, practices=practices, seed=seed, months=months, now=now,
                         dirty_share=0.0, format=fmt, results_visible=False,
                         opendental_leads=True)
        summary = ingest(drop).to_json()
        build_everything(now=now)
    return Built(fmt, home, summary)

"""Run the warehouse build: ops events in, models and checks, atomic snapshot publish."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from loopdesk_core import clock
from warehouse.rules import PracticeCalendar
from warehouse.snapshot import publish_snapshot


@dataclass(frozen=True)
class BuildResult:
    """What one build published: where, which id, rows per model, checks run, and how long."""

    snapshot_path: Path
    build_id: str
    as_of: datetime
    model_rows: dict[str, int]
    checks_run: list[str]
    ops_rows: dict[str, int]
    seconds: float
    mode: str = "full"  # "incremental" when only the touched practices were rebuilt

    def to_json(self) -> dict[str, object]:
        """A JSON-ready summary (no patient data: counts and names of models/checks only)."""
        return {
            "snapshot": str(self.snapshot_path),
            "build_id": self.build_id,
            "as_of": self.as_of.isoformat(),
            "models": self.model_rows,
            "checks": len(self.checks_run),
            "ops_rows": self.ops_rows,
            "seconds": round(self.seconds, 3),
            "mode": self.mode,
        }


def run_build(
    *,
    ops_events: Mapping[str, pa.Table] | None = None,
    as_of: datetime | None = None,
    calendars: Mapping[str, PracticeCalendar] | None = None,
    full: bool = False,
) -> BuildResult:
    """Build and publish a warehouse snapshot as of `as_of` (default: the clock's now);
    `calendars` are the practices' own open days and SLA lengths (the console's settings); only
    the practices whose rows changed are rebuilt unless `full` (or the models changed)."""
    published = publish_snapshot(
        as_of=as_of if as_of is not None else clock.now(), ops_events=ops_events,
        calendars=calendars, full=full,
    )
    return BuildResult(
        snapshot_path=published.path,
        build_id=published.build_id,
        as_of=published.as_of,
        model_rows={run.name: run.rows for run in published.models},
        checks_run=[run.name for run in published.checks],
        ops_rows=dict(published.ops_rows),
        seconds=published.seconds,
        mode=published.mode,
    )

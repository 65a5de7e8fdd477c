"""The whole loop: build (ops events → warehouse → task refresh)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from console.lifecycle.ops_export import export_operational_events, practice_calendars
from console.platform.db import get_engine, init_db, session_scope
from console.work.refresh import RefreshResult, refresh_tasks
from loopdesk_core import clock


@dataclass(frozen=True)
class BuildSummary:
    """What `loopdesk build` did: the snapshot published and the task refresh."""

    build: Any  # pipelines.build.BuildResult (imported lazily: console imports pipelines only here)
    tasks: RefreshResult

    def to_json(self) -> dict[str, object]:
        """The `build --json` contract: snapshot facts plus tasks created / closed / open."""
        counts = {
            "created": self.tasks.created,
            "closed": self.tasks.closed,
            "open": self.tasks.open,
        }
        return {
            **self.build.to_json(),
            "tasks": counts,
            **{f"tasks_{name}": value for name, value in counts.items()},
        }

    def describe(self) -> str:
        """One readable line for a terminal."""
        return (
            f"published snapshot {self.build.build_id} in {self.build.seconds:.1f} s; "
            f"tasks: {self.tasks.created} created, {self.tasks.closed} closed, "
            f"{self.tasks.open} open"
        )


def build_everything(*, now: datetime | None = None, full: bool = False) -> BuildSummary:
    """Copy operational events to the warehouse, publish a snapshot (only the practices whose
    rows changed are rebuilt, unless `full`), then refresh the tasks."""
    from pipelines.build import run_build
    from warehouse.snapshot import reading_snapshot

    as_of = now or clock.now()
    engine = get_engine()
    init_db(engine)
    with session_scope(engine) as session:
        ops_events = export_operational_events(session=session)
        calendars = practice_calendars(session=session)
    result = run_build(ops_events=ops_events, as_of=as_of, calendars=calendars, full=full)
    with reading_snapshot() as snapshot, session_scope(engine) as session:
        refreshed = refresh_tasks(session=session, snapshot=snapshot, now=as_of)
    return BuildSummary(build=result, tasks=refreshed)

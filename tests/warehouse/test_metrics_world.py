"""A tiny literal warehouse for the metric tests: B's input tables plus the metric marts on top."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from warehouse.rules import PracticeCalendar
from warehouse.runner import BuildParams, create_build_params

MARTS_DIR = Path(__file__).resolve().parents[2] / "warehouse" / "models" / "marts"
METRIC_MART_PATTERNS = (
    "mart_metric_*.sql",
    "mart_sla_*.sql",
    "mart_capacity_*.sql",
    "mart_funnel_*.sql",
)

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday, 15:00 UTC
AS_OF = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)

INPUT_TABLES: dict[str, str] = {
    "mart_practices": (
        "practice_slug varchar, name varchar, specialty varchar, timezone varchar, "
        "contracted_hours_per_week double, onboarded_at timestamptz"
    ),
    "mart_treatments": (
        "practice_slug varchar, treatment_id varchar, patient_id varchar, treatment_code varchar, "
        "category varchar, description varchar, value double, completed_at timestamptz, "
        "results_visible_at timestamptz"
    ),
    "mart_leads": (
        "practice_slug varchar, lead_id varchar, referrer_patient_id varchar, "
        "lead_first_name varchar, lead_last_name varchar, lead_phone varchar, lead_email varchar, "
        "source varchar, referred_at timestamptz, status varchar, status_at timestamptz, "
        "booked_value double, became_patient_id varchar, first_contact_at timestamptz, "
        "has_outcome boolean, outcome_at timestamptz, loop_closed_at timestamptz"
    ),
    "int_asks": (
        "practice_slug varchar, patient_id varchar, treatment_id varchar, asked_at timestamptz, "
        "channel varchar, source varchar, reached boolean, willing boolean, declined boolean, "
        "disposition varchar"
    ),
    "stg_ops__tasks": (
        "task_id bigint, kind varchar, practice_slug varchar, patient_id varchar, lead_id varchar, "
        "treatment_id varchar, created_at timestamptz, due_at timestamptz, "
        "sla_deadline timestamptz, status varchar, closed_at timestamptz, close_reason varchar"
    ),
    "stg_ops__touches": (
        "touch_id bigint, task_id bigint, practice_slug varchar, patient_id varchar, "
        "lead_id varchar, task_kind varchar, coordinator_id bigint, channel varchar, "
        "disposition varchar, minutes double, started_at timestamptz, ended_at timestamptz"
    ),
}


def at(days: float = 0, *, hours: float = 0, seconds: float = 0) -> datetime:
    """An instant relative to T0."""
    return T0 + timedelta(days=days, hours=hours, seconds=seconds)


def metric_mart_files() -> list[Path]:
    """Every metric mart SQL file of task D."""
    return sorted({p for pattern in METRIC_MART_PATTERNS for p in MARTS_DIR.glob(pattern)})


def run_metric_marts(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Materialise the metric marts, each after the other metric marts it names."""
    pending = {path.stem: path.read_text() for path in metric_mart_files()}
    done: list[str] = []
    while pending:
        ready = [
            name
            for name, sql in pending.items()
            if not any(
                re.search(rf"\b{other}\b", re.sub(r"--[^\n]*", "", sql))
                for other in pending
                if other != name
            )
        ]
        assert ready, f"metric marts reference each other in a cycle: {sorted(pending)}"
        for name in sorted(ready):
            conn.execute(f"create table {name} as {pending.pop(name).strip().rstrip(';')}")
            done.append(name)
    return done


@dataclass
class World:
    """Literal input rows; `build()` loads them into DuckDB and runs the metric marts."""

    as_of: datetime = AS_OF
    rows: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {name: [] for name in INPUT_TABLES}
    )
    calendars: dict[str, PracticeCalendar] = field(default_factory=dict)

    def practice(
        self,
        slug: str,
        *,
        timezone: str = "UTC",
        contracted: float = 10.0,
        onboarded_at: datetime | None = None,
    ) -> World:
        """Add a practice."""
        self.rows["mart_practices"].append(
            {
                "practice_slug": slug,
                "name": f"Practice {slug}",
                "specialty": "dental",
                "timezone": timezone,
                "contracted_hours_per_week": contracted,
                "onboarded_at": onboarded_at,
            }
        )
        return self

    def treatment(
        self,
        practice: str,
        treatment_id: str,
        patient_id: str,
        *,
        visible_at: datetime,
        completed_at: datetime | None = None,
        value: float = 1000.0,
    ) -> World:
        """Add a treatment whose results became visible at `visible_at`."""
        self.rows["mart_treatments"].append(
            {
                "practice_slug": practice,
                "treatment_id": treatment_id,
                "patient_id": patient_id,
                "treatment_code": "D6010",
                "category": "implant",
                "description": None,
                "value": value,
                "completed_at": completed_at or visible_at - timedelta(days=14),
                "results_visible_at": visible_at,
            }
        )
        return self

    def ask(
        self,
        practice: str,
        patient_id: str,
        asked_at: datetime,
        *,
        reached: bool = False,
        willing: bool = False,
    ) -> World:
        """Add an ask touch of a patient."""
        disposition = "referred" if willing else ("declined" if reached else "no_answer")
        self.rows["int_asks"].append(
            {
                "practice_slug": practice,
                "patient_id": patient_id,
                "treatment_id": None,
                "asked_at": asked_at,
                "channel": "call",
                "source": "call",
                "reached": reached,
                "willing": willing,
                "declined": disposition == "declined",
                "disposition": disposition,
            }
        )
        return self

    def lead(
        self,
        practice: str,
        lead_id: str,
        referrer: str | None,
        referred_at: datetime,
        *,
        status: str = "new",
        outcome_at: datetime | None = None,
        booked_value: float | None = None,
        first_contact_at: datetime | None = None,
        loop_closed_at: datetime | None = None,
    ) -> World:
        """Add a lead; it has an outcome when its status is past `contacted`."""
        has_outcome = status in {"booked", "treated", "declined", "unreachable"}
        self.rows["mart_leads"].append(
            {
                "practice_slug": practice,
                "lead_id": lead_id,
                "referrer_patient_id": referrer,
                "lead_first_name": "Ann",
                "lead_last_name": "Example",
                "lead_phone": None,
                "lead_email": None,
                "source": "export",
                "referred_at": referred_at,
                "status": status,
                "status_at": outcome_at or first_contact_at,
                "booked_value": booked_value,
                "became_patient_id": None,
                "first_contact_at": first_contact_at,
                "has_outcome": has_outcome,
                "outcome_at": outcome_at if has_outcome else None,
                "loop_closed_at": loop_closed_at,
            }
        )
        return self

    def task(
        self,
        task_id: int,
        practice: str,
        kind: str,
        *,
        sla_deadline: datetime,
        status: str = "done",
        closed_at: datetime | None = None,
        lead_id: str | None = None,
    ) -> World:
        """Add a console task."""
        self.rows["stg_ops__tasks"].append(
            {
                "task_id": task_id,
                "kind": kind,
                "practice_slug": practice,
                "patient_id": None,
                "lead_id": lead_id,
                "treatment_id": None,
                "created_at": sla_deadline - timedelta(days=7),
                "due_at": sla_deadline - timedelta(days=7),
                "sla_deadline": sla_deadline,
                "status": status,
                "closed_at": closed_at,
                "close_reason": None,
            }
        )
        return self

    def touch(
        self,
        touch_id: int,
        practice: str,
        *,
        minutes: float,
        started_at: datetime,
        coordinator_id: int | None = 1,
        task_id: int | None = None,
        task_kind: str | None = None,
    ) -> World:
        """Add a touch (coordinator_id None = an automated message)."""
        self.rows["stg_ops__touches"].append(
            {
                "touch_id": touch_id,
                "task_id": task_id,
                "practice_slug": practice,
                "patient_id": None,
                "lead_id": None,
                "task_kind": task_kind,
                "coordinator_id": coordinator_id,
                "channel": "call" if coordinator_id is not None else "sms",
                "disposition": "no_answer",
                "minutes": minutes,
                "started_at": started_at,
                "ended_at": started_at + timedelta(minutes=minutes),
            }
        )
        return self

    def build(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB with the inputs and the metric marts materialised."""
        conn = duckdb.connect()
        # A non-UTC session zone proves the marts never lean on the session's time zone.
        conn.execute("set TimeZone = 'Asia/Kolkata'")
        for name, columns in INPUT_TABLES.items():
            conn.execute(f"create table {name} ({columns})")
        # The build's own parameter tables (build_params, build_sla_days), as the build writes them.
        create_build_params(
            conn, BuildParams(as_of=self.as_of, build_id="world", calendars=self.calendars)
        )
        for name, rows in self.rows.items():
            if rows:
                cols = list(rows[0])
                marks = ", ".join("?" for _ in cols)
                conn.executemany(
                    f"insert into {name} ({', '.join(cols)}) values ({marks})",
                    [[row[c] for c in cols] for row in rows],
                )
        run_metric_marts(conn)
        return conn


def test_metric_marts_build_on_empty_inputs() -> None:
    """With no rows at all every metric mart still materialises (and is empty)."""
    conn = World().build()
    names = [p.stem for p in metric_mart_files()]
    assert "mart_metric_cohort" in names and "mart_funnel_monthly" in names
    for name in names:
        row = conn.execute(f"select count(*) from {name}").fetchone()
        assert row == (0,)


def full_rate(block: dict[str, Any], key: str) -> dict[str, Any]:
    """A flat rate of a metric block with its numerator and denominator from `counts`."""
    from warehouse.metrics_block import rate_counts

    numerator, denominator = rate_counts(block, key)
    return {"value": block[key], "numerator": numerator, "denominator": denominator}

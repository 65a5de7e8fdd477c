"""Tiny literal raw-store rows for warehouse tests (the ingest's bookkeeping columns filled in)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from warehouse import paths
from warehouse.raw_store import ensure_raw_schema

AS_OF = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
_META_TABLES = {"raw_practices", "raw_patients", "raw_treatments", "raw_referrals"}


def days_ago(days: float) -> datetime:
    """An instant `days` before the tests' fixed as_of."""
    return AS_OF - timedelta(days=days)


@contextmanager
def raw_store() -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection to the test home's raw store, schema created."""
    conn = duckdb.connect(str(paths.raw_db_path()))
    try:
        ensure_raw_schema(conn)
        yield conn
    finally:
        conn.close()


def insert(conn: duckdb.DuckDBPyConnection, table: str, **values: Any) -> None:
    """Insert one row by column name, filling ingest bookkeeping columns for raw_* tables."""
    if table in _META_TABLES:
        values = {
            "_row_hash": 0,
            "_source_file": "test.csv",
            "_source_line": 2,
            "_loaded_at": AS_OF,
            **values,
        }
    cols = ", ".join(f'"{col}"' for col in values)
    marks = ", ".join("?" for _ in values)
    conn.execute(f"insert into {table} ({cols}) values ({marks})", list(values.values()))


def practice(conn: duckdb.DuckDBPyConnection, slug: str = "p1", **over: Any) -> None:
    """A practice row with sensible defaults."""
    insert(
        conn,
        "raw_practices",
        **{
            "practice_slug": slug,
            "name": f"Practice {slug}",
            "specialty": "dental implants",
            "timezone": "America/Chicago",
            "contracted_hours_per_week": 12.0,
            "onboarded_at": days_ago(200),
            **over,
        },
    )


def patient(
    conn: duckdb.DuckDBPyConnection, patient_id: str, slug: str = "p1", **over: Any
) -> None:
    """A contactable patient (consent on every channel) unless overridden."""
    insert(
        conn,
        "raw_patients",
        **{
            "practice_slug": slug,
            "patient_id": patient_id,
            "first_name": "Ada",
            "last_name": "Lovelace",
            "phone": "+13125550100",
            "email": "ada@example.com",
            "consent_call": True,
            "consent_text": True,
            "consent_email": True,
            "do_not_contact": False,
            "satisfaction_score": 8,
            "updated_at": days_ago(400),
            **over,
        },
    )


def treatment(
    conn: duckdb.DuckDBPyConnection,
    treatment_id: str,
    patient_id: str,
    slug: str = "p1",
    **over: Any,
) -> None:
    """An implant treatment completed 20 days ago (results visible 6 days ago) unless overridden."""
    insert(
        conn,
        "raw_treatments",
        **{
            "practice_slug": slug,
            "treatment_id": treatment_id,
            "patient_id": patient_id,
            "treatment_code": "D6010",
            "category": "implant",
            "description": "single implant",
            "value": 4000.0,
            "completed_at": days_ago(20),
            "results_visible_at": None,
            **over,
        },
    )


def referral(
    conn: duckdb.DuckDBPyConnection,
    lead_id: str,
    referrer: str | None,
    slug: str = "p1",
    **over: Any,
) -> None:
    """A new export lead referred 10 days ago unless overridden."""
    insert(
        conn,
        "raw_referrals",
        **{
            "practice_slug": slug,
            "lead_id": lead_id,
            "referrer_patient_id": referrer,
            "lead_first_name": "Grace",
            "lead_last_name": "Hopper",
            "lead_phone": "+13125550199",
            "lead_email": "grace@example.com",
            "referred_at": days_ago(10),
            "status": "new",
            "status_at": None,
            "booked_value": None,
            "became_patient_id": None,
            **over,
        },
    )


def ops_table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    """An Arrow table of operational events shaped like ops_schema.sql (missing columns null)."""
    with duckdb.connect() as conn:
        ensure_raw_schema(conn)
        schema = conn.sql(f"select * from {name} limit 0").to_arrow_table().schema
    columns = {
        field.name: pa.array([row.get(field.name) for row in rows], type=field.type)
        for field in schema
    }
    return pa.table(columns, schema=schema)


def call_touch(
    touch_id: int,
    patient_id: str | None,
    *,
    disposition: str,
    at: datetime,
    task_id: int | None = None,
    task_kind: str | None = "ask",
    slug: str = "p1",
    lead_id: str | None = None,
    minutes: float = 5.0,
) -> dict[str, Any]:
    """One logged call row for ops_touches."""
    return {
        "touch_id": touch_id,
        "task_id": task_id,
        "practice_slug": slug,
        "patient_id": patient_id,
        "lead_id": lead_id,
        "task_kind": task_kind,
        "coordinator_id": 1,
        "channel": "call",
        "disposition": disposition,
        "minutes": minutes,
        "started_at": at,
        "ended_at": at + timedelta(minutes=minutes),
    }

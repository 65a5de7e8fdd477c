"""The raw store's schema and the wholesale copy of operational events into it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    import pyarrow as pa

RAW_SCHEMA = Path(__file__).parent / "raw_schema.sql"
OPS_SCHEMA = Path(__file__).parent / "ops_schema.sql"

_CREATE = re.compile(r"create table if not exists (\w+)", re.IGNORECASE)
# Raw tables that no longer carry a primary-key index (see raw_schema.sql).
UNKEYED_RAW_TABLES = ("raw_patients", "raw_treatments", "raw_referrals")


class OpsEventsRejected(ValueError):
    """Operational events that do not fit warehouse/ops_schema.sql."""


def ops_table_names() -> tuple[str, ...]:
    """The operational-event tables declared in ops_schema.sql."""
    return tuple(_CREATE.findall(OPS_SCHEMA.read_text(encoding="utf-8")))


def ensure_raw_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Create any missing raw and operational-event table (existing tables are left alone,
    except that an old keyed big raw table is rebuilt without its index)."""
    conn.execute(RAW_SCHEMA.read_text(encoding="utf-8"))
    drop_raw_key_indexes(conn)
    conn.execute(OPS_SCHEMA.read_text(encoding="utf-8"))


def drop_raw_key_indexes(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Rebuild any of UNKEYED_RAW_TABLES that still has a primary key (a store made before
    the keys were dropped), rows unchanged, in one transaction; return the tables rebuilt."""
    keyed = [
        row[0]
        for row in conn.execute(
            "select distinct table_name from duckdb_constraints() "
            "where constraint_type = 'PRIMARY KEY' and database_name = current_database() "
            "and table_name in (select unnest($tables))",
            {"tables": list(UNKEYED_RAW_TABLES)},
        ).fetchall()
    ]
    if not keyed:
        return []
    conn.execute("begin transaction")
    try:
        for table in keyed:
            conn.execute(f"alter table {table} rename to {table}__keyed")
        conn.execute(RAW_SCHEMA.read_text(encoding="utf-8"))  # the unkeyed tables, empty
        for table in keyed:
            conn.execute(f"insert into {table} by name select * from {table}__keyed")
            conn.execute(f"drop table {table}__keyed")
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
    conn.execute("checkpoint")
    return sorted(keyed)


def write_ops_events(
    conn: duckdb.DuckDBPyConnection, ops_events: Mapping[str, pa.Table]
) -> dict[str, int]:
    """Replace each given ops table wholesale with its Arrow table, in one transaction.

    Tables not in the mapping keep their previous copy. Columns are matched by name; a
    column missing from the Arrow table is null, an unknown column is refused.
    """
    known = set(ops_table_names())
    unknown = sorted(set(ops_events) - known)
    if unknown:
        raise OpsEventsRejected(f"unknown operational-event tables: {', '.join(unknown)}")
    written: dict[str, int] = {}
    conn.execute("begin transaction")
    try:
        for name, table in ops_events.items():
            target_cols = {row[0] for row in conn.execute(f"describe {name}").fetchall()}
            extra = sorted(set(table.column_names) - target_cols)
            if extra:
                raise OpsEventsRejected(f"{name}: unknown columns {', '.join(extra)}")
            conn.execute(f"delete from {name}")
            if table.num_rows:
                conn.register("_ops_events_in", table)
                try:
                    conn.execute(f"insert into {name} by name select * from _ops_events_in")
                finally:
                    conn.unregister("_ops_events_in")
            written[name] = table.num_rows
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
    return written


def prepare_raw_store(path: Path, ops_events: Mapping[str, pa.Table] | None) -> dict[str, int]:
    """Make sure the raw store has every table, then copy in the operational events if given."""
    conn = duckdb.connect(str(path))
    try:
        # Naive timestamps in the ops export (SQLite returns them) are UTC instants.
        conn.execute("set TimeZone = 'UTC'")
        ensure_raw_schema(conn)
        return write_ops_events(conn, ops_events) if ops_events else {}
    finally:
        conn.close()

"""Read-side data-quality queries: feed status and quarantined rows, filtered by tenant scope."""

from __future__ import annotations

from typing import Any

import duckdb

from warehouse.scope import Scope

QUALITY_COLUMNS = (
    "practice_slug",
    "file",
    "quarantined_rows",
    "quarantined_rows_all_runs",
    "last_quarantined_at",
    "feed_status",
    "feed_message",
    "checked_at",
)
QUARANTINE_COLUMNS = (
    "run_id",
    "practice_slug",
    "file",
    "line",
    "column_name",
    "reason",
    "raw_record",
    "quarantined_at",
)


def _scope_filter(scope: Scope, practice_slug: str | None) -> tuple[str, list[Any]] | None:
    """A where-clause and its parameters limiting rows to the scope; None when nothing is visible.

    Agency-level rows (no practice, e.g. practices.csv) are visible only to an agency-wide scope.
    """
    if practice_slug is not None:
        if not scope.allows(practice_slug):
            return None
        return "practice_slug = ?", [practice_slug]
    if scope.agency_wide:
        return "true", []
    slugs = scope.restrict(scope.practice_slugs)
    if not slugs:
        return None
    return "practice_slug in (select unnest(?))", [slugs]


def _rows(
    conn: duckdb.DuckDBPyConnection, sql: str, params: list[Any], columns: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Run a query and return its rows as dictionaries keyed by `columns`."""
    return [dict(zip(columns, row, strict=True)) for row in conn.execute(sql, params).fetchall()]


def data_quality(
    conn: duckdb.DuckDBPyConnection, *, scope: Scope, practice_slug: str | None = None
) -> list[dict[str, Any]]:
    """Per (practice, file): latest-run quarantined rows and feed status, within the scope."""
    where = _scope_filter(scope, practice_slug)
    if where is None:
        return []
    clause, params = where
    cols = ", ".join(QUALITY_COLUMNS)
    sql = (
        f"select {cols} from mart_data_quality where {clause} "
        "order by practice_slug nulls first, file"
    )
    return _rows(conn, sql, params, QUALITY_COLUMNS)


def quarantine_rows(
    conn: duckdb.DuckDBPyConnection,
    *,
    scope: Scope,
    practice_slug: str | None = None,
    file: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Quarantined rows (file, line, column, reason, record) within the scope, newest first."""
    where = _scope_filter(scope, practice_slug)
    if where is None:
        return []
    clause, params = where
    if file is not None:
        clause, params = f"{clause} and file = ?", [*params, file]
    cols = ", ".join(QUARANTINE_COLUMNS)
    sql = (
        f"select {cols} from mart_quarantine where {clause} "
        "order by quarantined_at desc, file, line limit ?"
    )
    return _rows(conn, sql, [*params, max(int(limit), 0)], QUARANTINE_COLUMNS)

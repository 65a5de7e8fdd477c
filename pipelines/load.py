"""Idempotent load into the raw store: classify rows by natural key and content hash, apply.

`_row_hash` is DuckDB's `hash()` over the typed contract columns (not the source file or
line), so a re-export with different formatting of the same values is `unchanged`. The
hash is stable for a given DuckDB version; an upgrade that changed it would report the
affected rows once as `updated`, with identical content.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import duckdb
import polars as pl
import pyarrow as pa

from pipelines.contract import ExportFile
from warehouse.raw_store import RAW_SCHEMA, drop_raw_key_indexes

# DuckDB defaults to 80 % of the machine's memory and holds what it may: a ceiling keeps an
# ingest's peak flat as drops grow (it spills to the store's temp folder beyond it).
RAW_STORE_MEMORY_LIMIT = "1GB"

_META = ("_row_hash", "_source_file", "_source_line", "_loaded_at")
_OPTIONAL_META = ("_source_format",)  # which reader made the row (not on raw_practices)


def open_raw_store(path: str) -> duckdb.DuckDBPyConnection:
    """Connect to the raw store and make sure its tables exist (from raw_schema.sql)."""
    connection = duckdb.connect(path, config={"memory_limit": RAW_STORE_MEMORY_LIMIT})
    connection.execute("set enable_progress_bar = false")
    connection.execute(RAW_SCHEMA.read_text(encoding="utf-8"))
    drop_raw_key_indexes(connection)
    return connection


def _arrow(frame: pl.DataFrame) -> pa.Table:
    """`frame` as Arrow without copying its strings (polars' string views, which DuckDB reads
    as they are; the default form converts every string to Arrow's older layout first)."""
    return frame.to_arrow(compat_level=pl.CompatLevel.newest())


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _slugs_in(values: Iterable[object]) -> str:
    """`(…)`: the distinct practice slugs of `values` as SQL string literals. A literal list,
    unlike `in (select … from a registered frame)`, lets DuckDB skip the row groups of other
    practices by their zone maps: each batch's lookups then cost what the batch holds, not
    what every earlier batch loaded (they grew with the store: quadratic over 10,000
    practices, docs/benchmarks.md)."""
    slugs = sorted({str(v) for v in values if v is not None})
    if not slugs:
        return "(null)"
    return "(" + ", ".join("'" + slug.replace("'", "''") + "'" for slug in slugs) + ")"


def apply_rows(
    connection: duckdb.DuckDBPyConnection,
    spec: ExportFile,
    good: pl.DataFrame,
    *,
    loaded_at: datetime,
) -> pl.DataFrame:
    """Insert new keys, update changed rows, leave identical ones; counts per source file.

    Returns one row per (practice_slug, _source_file) with inserted, updated, unchanged.
    """
    key = list(spec.key)
    content = [c for c in good.columns if not c.startswith("_")]
    meta = _meta(good)
    connection.register("incoming_rows", _arrow(good))
    hashed = ", ".join(_quoted(c) for c in content)
    incoming = _slugs_in(good.get_column("practice_slug").unique().to_list())
    if not _holds_incoming_practices(connection, spec.table, incoming):
        return _insert_all(connection, spec, content, meta, loaded_at=loaded_at)
    join = " and ".join(f"r.{_quoted(k)} = i.{_quoted(k)}" for k in key)
    connection.execute(
        f"""
        create or replace temp table classified as
        with incoming as (
            select *, hash({hashed}) as _row_hash from incoming_rows
        ),
        stored as (
            -- every key holds practice_slug: only the incoming practices' rows can match
            select * from {spec.table} where practice_slug in {incoming}
        ),
        final as (
            select
                i.*,
                case
                    when r.{_quoted(key[0])} is null then 'insert'
                    when r._row_hash = i._row_hash then 'unchanged'
                    else 'update'
                end as _action
            from incoming as i
            left join stored as r on {join}
        )
        select * from final
        """
    )
    connection.unregister("incoming_rows")
    assignments = ", ".join(
        f"{_quoted(c)} = i.{_quoted(c)}" for c in [*content, *meta] if c not in key
    )
    connection.execute(
        f"""
        update {spec.table} as r
        set {assignments}, _loaded_at = $loaded_at
        from classified as i
        where {join} and i._action = 'update'
        """,
        {"loaded_at": loaded_at},
    )
    columns = ", ".join(_quoted(c) for c in [*content, *meta])
    connection.execute(
        f"""
        insert into {spec.table} ({columns}, _loaded_at)
        select {columns}, $loaded_at from classified where _action = 'insert'
        """,
        {"loaded_at": loaded_at},
    )
    counts = connection.sql(
        """
        select
            practice_slug,
            _source_file,
            count(*) filter (where _action = 'insert') as inserted,
            count(*) filter (where _action = 'update') as updated,
            count(*) filter (where _action = 'unchanged') as unchanged
        from classified
        group by all
        """
    ).pl()
    connection.execute("drop table classified")
    return counts


def _meta(good: pl.DataFrame) -> list[str]:
    """Provenance columns written with each row (the row hash never covers them)."""
    return [*_META[:-1], *(c for c in _OPTIONAL_META if c in good.columns)]


def _holds_incoming_practices(
    connection: duckdb.DuckDBPyConnection, table: str, incoming: str
) -> bool:
    """Whether the raw table holds any row of the `incoming` practices (a `_slugs_in` list; if
    none, this is those practices' first load: every key holds practice_slug, so every row is
    new)."""
    found = connection.execute(
        f"select exists (select 1 from {table} where practice_slug in {incoming})"
    ).fetchone()
    return found == (True,)


def _insert_all(
    connection: duckdb.DuckDBPyConnection,
    spec: ExportFile,
    content: list[str],
    meta: list[str],
    *,
    loaded_at: datetime,
) -> pl.DataFrame:
    """First load of these practices: every incoming row is new, so insert straight from Arrow
    (no classify step). Validation already kept one row per key, so no incoming row can collide
    with another.
    """
    hashed = ", ".join(_quoted(c) for c in content)
    columns = ", ".join(_quoted(c) for c in [*content, *meta])
    provenance = ", ".join(_quoted(c) for c in meta[1:])
    try:
        connection.execute(
            f"""
            insert into {spec.table} ({columns}, _loaded_at)
            select {hashed}, hash({hashed}), {provenance}, $loaded_at
            from incoming_rows
            """,
            {"loaded_at": loaded_at},
        )
        return connection.sql(
            """
            select
                practice_slug,
                _source_file,
                count(*) as inserted,
                0::bigint as updated,
                0::bigint as unchanged
            from incoming_rows
            group by all
            """
        ).pl()
    finally:
        connection.unregister("incoming_rows")


def known_patients(connection: duckdb.DuckDBPyConnection, practices: list[str]) -> pl.DataFrame:
    """(practice_slug, patient_id) already in the raw store for these practices."""
    return connection.sql(
        "select practice_slug, patient_id from raw_patients"
        f" where practice_slug in {_slugs_in(practices)}"
    ).pl()


def record_quarantine(
    connection: duckdb.DuckDBPyConnection, bad: pl.DataFrame, *, run_id: str, at: datetime
) -> None:
    """Append quarantined rows, skipping ones identical to rows already recorded."""
    if bad.is_empty():
        return
    connection.register("bad_rows", _arrow(bad))
    # Only rows of the batch's practices (or of none) can be identical to an incoming one.
    slugs = _slugs_in(bad.get_column("practice_slug").to_list())
    nearby = f"(q.practice_slug in {slugs} or q.practice_slug is null)"
    connection.execute(
        f"""
        insert into quarantine
            (run_id, practice_slug, file, line, "column", reason, raw_record, quarantined_at)
        select $run_id, b.practice_slug, b.file, b.line, b."column", b.reason, b.raw_record, $at
        from bad_rows as b
        where not exists (
            select 1 from quarantine as q
            where {nearby}
              and q.practice_slug is not distinct from b.practice_slug
              and q.file = b.file
              and q.line = b.line
              and q."column" is not distinct from b."column"
              and q.reason = b.reason
              and q.raw_record is not distinct from b.raw_record
        )
        """,
        {"run_id": run_id, "at": at},
    )
    connection.unregister("bad_rows")


def record_feed_status(
    connection: duckdb.DuckDBPyConnection, statuses: pl.DataFrame, *, at: datetime
) -> None:
    """Upsert (practice_slug, file, status, message) rows into feed_status."""
    if statuses.is_empty():
        return
    connection.register("statuses", _arrow(statuses))
    connection.execute(
        """
        insert or replace into feed_status (practice_slug, file, status, message, checked_at)
        select practice_slug, file, status, message, $at from statuses
        """,
        {"at": at},
    )
    connection.unregister("statuses")


def known_timezones(connection: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """(practice_slug, timezone) of practices already in the raw store."""
    return connection.sql("select practice_slug, timezone from raw_practices").pl()


def declared_formats(connection: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """practice_slug -> the `source_format` practices.csv declared (practices that declare one)."""
    rows = connection.execute(
        "select practice_slug, source_format from raw_practices where source_format is not null"
    ).fetchall()
    return {slug: fmt for slug, fmt in rows}

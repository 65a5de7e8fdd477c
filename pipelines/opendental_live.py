"""`loopdesk ingest --from-opendental URL --practice SLUG`: read Open Dental's MySQL/MariaDB.

The session is read-only (`SET SESSION TRANSACTION READ ONLY`, one consistent-snapshot
transaction: plain InnoDB reads take no locks), rows stream through a server-side cursor in
batches, and reads are incremental: the first run reads everything, later runs read the rows
whose `DateTStamp` is at or after the practice's high-water mark for that table, plus the
rows needed to map them (a changed lead's friend, a friend's procedures). The rows go through
the same Open Dental mapping (pipelines/source_opendental.py) and shared pipeline as table CSVs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import unquote, urlsplit

import duckdb
import polars as pl

from loopdesk_core.clock import now as clock_now
from pipelines.catalogue import shipped_catalogue
from pipelines.source_opendental import MAIN_TABLES, TABLES, map_tables
from pipelines.sources import SourceRead

SOURCE = "opendental"
BATCH_ROWS = 5_000
_IN_CHUNK = 1_000
_INCREMENTAL = ("patient", "procedurelog", "refattach")
_SCHEMES = ("mysql", "mariadb", "mysql+pymysql")


class OpenDentalError(ValueError):
    """The URL is unusable or the database cannot be read (a message for the user)."""


@dataclass(frozen=True)
class Target:
    """Where the practice's database is (the password is kept out of messages)."""

    host: str
    port: int
    user: str
    password: str | None
    database: str

    @property
    def shown(self) -> str:
        """The target without credentials, for messages."""
        return f"{self.host}:{self.port}/{self.database}"


def parse_url(url: str, fallback_password: str | None) -> Target:
    """`mysql://user[:password]@host[:port]/database`; no password -> the setting's."""
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES:
        raise OpenDentalError(
            "the Open Dental URL must look like mysql://user@host:3306/database"
        )
    database = parts.path.lstrip("/")
    if not parts.hostname or not database or "/" in database:
        raise OpenDentalError(
            "the Open Dental URL needs a host and a database: mysql://user@host:3306/database"
        )
    try:
        port = parts.port or 3306
    except ValueError as error:
        raise OpenDentalError("the Open Dental URL has an invalid port") from error
    password = unquote(parts.password) if parts.password is not None else fallback_password
    return Target(
        host=parts.hostname,
        port=port,
        user=unquote(parts.username or "root"),
        password=password,
        database=unquote(database),
    )


def _text(value: Any) -> str | None:
    """A database value as the text a table CSV export would hold."""
    if value is None:
        return None
    if isinstance(value, timedelta):  # MySQL TIME
        seconds = int(value.total_seconds())
        return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bytes | bytearray):
        if len(value) == 1 and value in (b"\x00", b"\x01"):  # BIT(1)
            return str(value[0])
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


class _Reader:
    """One read-only, consistent-snapshot session on the practice's database."""

    def __init__(self, target: Target) -> None:
        import pymysql
        import pymysql.cursors

        try:
            self.connection = pymysql.connect(
                host=target.host,
                port=target.port,
                user=target.user,
                password=target.password or "",
                database=target.database,
                charset="utf8mb4",
                cursorclass=pymysql.cursors.SSCursor,
                connect_timeout=10,
                autocommit=True,
            )
        except pymysql.MySQLError as error:
            raise OpenDentalError(
                f"cannot connect to the Open Dental database at {target.shown} "
                f"(MySQL error {error.args[0] if error.args else '?'})"
            ) from error
        self.database = target.database
        with self.connection.cursor() as cursor:
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
            cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")

    def close(self) -> None:
        try:
            with self.connection.cursor() as cursor:
                cursor.execute("ROLLBACK")
        finally:
            self.connection.close()

    def columns(self) -> dict[str, list[str]]:
        """Table -> column names, for the tables Loopdesk reads (names as the schema has them)."""
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT LOWER(TABLE_NAME), COLUMN_NAME FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = %s ORDER BY ORDINAL_POSITION",
                (self.database,),
            )
            found: dict[str, list[str]] = {}
            for table, column in cursor.fetchall():
                if table in TABLES:
                    found.setdefault(table, []).append(column)
        return found

    def stream(
        self, table: str, columns: list[str], where: str = "", params: Iterable[Any] = ()
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Batches of rows of `SELECT columns FROM table [WHERE ...]` (server-side cursor)."""
        listed = ", ".join(f"`{c}`" for c in columns)
        sql = f"SELECT {listed} FROM `{table}`" + (f" WHERE {where}" if where else "")
        with self.connection.cursor() as cursor:
            cursor.execute(sql, tuple(params))
            while batch := cursor.fetchmany(BATCH_ROWS):
                yield list(batch)


def _frame(
    table: str, columns: list[str], batches: Iterable[list[tuple[Any, ...]]]
) -> pl.DataFrame:
    """Rows as text columns named as the contract spells them, with `_file` and `_line`."""
    spec = TABLES[table]
    names = {c.lower(): c for c in spec.columns}
    renamed = [names.get(c.lower(), c) for c in columns]
    key = spec.key[-1]
    parts = []
    for batch in batches:
        data = {name: [_text(row[i]) for row in batch] for i, name in enumerate(renamed)}
        parts.append(pl.DataFrame(data, schema={name: pl.String for name in renamed}))
    frame = (
        pl.concat(parts)
        if parts
        else pl.DataFrame(schema={name: pl.String for name in renamed})
    )
    return frame.with_columns(
        _file=pl.lit(table),
        _line=pl.col(key).cast(pl.Int64, strict=False).fill_null(0) if key in frame.columns
        else pl.lit(0, dtype=pl.Int64),
    )


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def read_watermarks(connection: duckdb.DuckDBPyConnection, practice: str) -> dict[str, str]:
    """table -> high-water DateTStamp of the practice's previous live reads."""
    rows = connection.execute(
        "select table_name, high_water from source_watermarks "
        "where practice_slug = $p and source = $s",
        {"p": practice, "s": SOURCE},
    ).fetchall()
    return {table: mark for table, mark in rows}


def save_watermarks(
    connection: duckdb.DuckDBPyConnection, practice: str, marks: dict[str, str]
) -> None:
    """Record the new high-water marks (in the ingest's transaction)."""
    for table, mark in marks.items():
        connection.execute(
            "insert or replace into source_watermarks "
            "(practice_slug, source, table_name, high_water, updated_at) "
            "values ($p, $s, $t, $m, $at)",
            {"p": practice, "s": SOURCE, "t": table, "m": mark, "at": clock_now()},
        )


def read_live(target: Target, practice: str, marks: dict[str, str]) -> SourceRead:
    """Read the practice's Open Dental tables (incrementally after the first run) and map them."""
    read = SourceRead(practice=practice, format="opendental")
    reader = _Reader(target)
    try:
        available = reader.columns()
        missing = [name for name in MAIN_TABLES if name not in available]
        if missing:
            read.problems.append(
                ("paused", "-", f"Open Dental tables missing: {', '.join(missing)}")
            )
            return read
        chosen: dict[str, list[str]] = {}
        for name, columns in available.items():
            spec = TABLES[name]
            lower = {c.lower() for c in columns}
            lacking = [c for c in spec.required if c.lower() not in lower]
            if lacking:
                read.problems.append(
                    ("paused", name, f"missing column(s): {', '.join(lacking)}; feed paused")
                )
            wanted = {c.lower() for c in spec.columns}
            chosen[name] = [c for c in columns if c.lower() in wanted]
            read.files.append(name)
        if read.problems:
            return read
        tables = _read_tables(reader, chosen, marks)
    finally:
        reader.close()
    for name in _INCREMENTAL:
        frame = tables.get(name)
        if frame is not None and "DateTStamp" in frame.columns:
            stamps = frame["DateTStamp"].drop_nulls()
            latest = max([*stamps.to_list(), marks.get(name, "")])
            if latest:
                read.watermarks[name] = latest
    map_tables(practice, tables, shipped_catalogue(), read)
    if marks:
        read.notes.append("incremental read: rows changed since the previous read")
    return read


def _read_tables(
    reader: _Reader, chosen: dict[str, list[str]], marks: dict[str, str]
) -> dict[str, pl.DataFrame]:
    tables: dict[str, pl.DataFrame] = {}

    def fetch(name: str, where: str = "", params: Iterable[Any] = ()) -> pl.DataFrame:
        return _frame(name, chosen[name], reader.stream(name, chosen[name], where, params))

    def by_key(name: str, column: str, values: Iterable[str], extra: str = "") -> pl.DataFrame:
        wanted = sorted({v for v in values if v})
        parts = [
            fetch(
                name,
                f"`{column}` IN ({', '.join(['%s'] * len(chunk))})" + extra,
                chunk,
            )
            for chunk in _chunks(wanted)
        ]
        return pl.concat(parts) if parts else fetch(name, "1 = 0")

    for name in ("procedurecode", "referral", "commoptout"):
        if name in chosen:
            tables[name] = fetch(name)
    incremental = all(name in marks for name in _INCREMENTAL if name in chosen)
    if not incremental:
        for name in _INCREMENTAL:
            if name in chosen:
                tables[name] = fetch(name)
        return tables
    changed: dict[str, pl.DataFrame] = {}
    for name in _INCREMENTAL:
        if name not in chosen:
            continue
        if "DateTStamp" in chosen[name]:
            changed[name] = fetch(name, "`DateTStamp` >= %s", (marks[name],))
        else:
            changed[name] = fetch(name)
    patients = changed.get("patient")
    attach = changed.get("refattach")
    procedures = changed.get("procedurelog")
    changed_patients = patients["PatNum"].to_list() if patients is not None else []
    changed_procedure_patients = procedures["PatNum"].to_list() if procedures is not None else []
    opted_out = tables["commoptout"]["PatNum"].to_list() if "commoptout" in tables else []
    # Leads whose friend changed (details or procedures) are mapped again.
    if "refattach" in chosen:
        more = by_key("refattach", "PatNum", changed_patients + changed_procedure_patients)
        attach = pl.concat([a for a in (attach, more) if a is not None])
        tables["refattach"] = attach.unique("RefAttachNum", keep="first", maintain_order=True)
    friends = tables["refattach"]["PatNum"].to_list() if "refattach" in tables else []
    related = by_key("patient", "PatNum", friends + opted_out)
    people = [p for p in (patients, related) if p is not None]
    tables["patient"] = pl.concat(people).unique("PatNum", keep="first", maintain_order=True)
    prospects = (
        tables["patient"].filter(pl.col("PatStatus").str.strip_chars() == "6")["PatNum"].to_list()
    )
    extra = by_key(
        "procedurelog", "PatNum", friends + prospects, " AND `ProcStatus` IN (1, 2)"
    )
    logs = [p for p in (procedures, extra) if p is not None]
    tables["procedurelog"] = pl.concat(logs).unique("ProcNum", keep="first", maintain_order=True)
    return tables


def ingest_opendental(
    url: str,
    practice: str,
    *,
    password: str | None = None,
    progress: Any = None,
) -> Any:
    """Read one registered practice's Open Dental database into the raw store."""
    from loopdesk_core.settings import get_settings
    from pipelines.ingest import Plan, SourceError, run_ingest

    settings = get_settings()
    fallback = password
    if fallback is None and settings.opendental_password is not None:
        fallback = settings.opendental_password.get_secret_value()
    try:
        target = parse_url(url, fallback)
    except OpenDentalError as error:
        raise SourceError(str(error)) from error

    def plan(connection: duckdb.DuckDBPyConnection, report: Any) -> dict[str, Plan]:
        registered = connection.execute(
            "select count(*) from raw_practices where practice_slug = $p", {"p": practice}
        ).fetchone()
        if not registered or not registered[0]:
            raise SourceError(
                f"practice '{practice}' is not registered: ingest a practices.csv with its "
                "row first"
            )
        try:
            read = read_live(target, practice, read_watermarks(connection, practice))
        except OpenDentalError as error:
            raise SourceError(str(error)) from error
        except Exception as error:  # a driver error mid-read: the user's database to fix
            import pymysql

            if isinstance(error, pymysql.MySQLError):
                raise SourceError(
                    f"cannot read the Open Dental database at {target.shown} "
                    f"(MySQL error {error.args[0] if error.args else '?'})"
                ) from error
            raise
        return {practice: Plan(format="opendental", read=read)}

    def after(
        connection: duckdb.DuckDBPyConnection, loadable: list[str], plans: dict[str, Plan]
    ) -> None:
        read = plans[practice].read
        if practice in loadable and read is not None:
            save_watermarks(connection, practice, read.watermarks)

    return run_ingest(
        agency=None,
        practice=practice,
        progress=progress,
        plan_practices=plan,
        canonical_folders=lambda plans: [],
        limit=settings.ingest_max_file_bytes,
        after_load=after,
    )

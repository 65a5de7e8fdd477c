"""Schema migrations of the operational store (Alembic), run by `loopdesk db upgrade`,
`serve` and `demo` at start, and by `init_db` once per database URL per process.

A store made before migrations existed (tables, no `alembic_version`) is brought to the
initial revision's schema by the old "light migration" (missing nullable columns and
indexes) and stamped, then upgraded like any other. See docs/operations.md to add a revision.

May import: console.models.
"""

from __future__ import annotations

import contextlib
import fcntl
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Connection, Engine

HERE = Path(__file__).resolve().parent
INITIAL_REVISION = "0001"
# An arbitrary constant naming the PostgreSQL advisory lock that serialises upgrades.
_PG_MIGRATION_LOCK = 7_406_517_302
_lock = threading.Lock()
_upgraded: set[str] = set()


def target_metadata() -> MetaData:
    """Every table of the operational store."""
    from sqlmodel import SQLModel

    import console.models.registry  # noqa: F401  (registers every table)

    return SQLModel.metadata


def _config(connection: Connection) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["connection"] = connection
    return config


_REVISION_LINE = re.compile(r"^(down_revision|revision)\s*=\s*(None|['\"]([^'\"]+)['\"])",
                            re.MULTILINE)


def quick_head() -> str | None:
    """The head revision read from the revision files' text, without importing Alembic.

    None when the files do not form one simple chain (Alembic then decides). Keeps every CLI
    call's check "is the store current?" at one small query (start-up time, issue 10).
    """
    revisions: dict[str, str | None] = {}
    for path in sorted((HERE / "versions").glob("*.py")):
        found = dict((key, match) for key, _, match in _REVISION_LINE.findall(path.read_text()))
        if found.get("revision"):
            revisions[found["revision"]] = found.get("down_revision") or None
    parents = set(revisions.values())
    heads = [revision for revision in revisions if revision not in parents]
    return heads[0] if len(heads) == 1 else None


def _is_current(engine: Engine) -> bool:
    """Whether the store is already at the head revision (one query, no Alembic import)."""
    head = quick_head()
    if head is None:
        return False
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return False
            rows = connection.execute(text("select version_num from alembic_version")).all()
    except Exception:  # let the full upgrade report whatever is wrong
        return False
    return [row[0] for row in rows] == [head]


def head_revision() -> str:
    """The newest revision in console/migrations/versions."""
    from alembic.script import ScriptDirectory

    config = _config(None)  # type: ignore[arg-type]
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (None: never migrated)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


@contextlib.contextmanager
def _exclusive(engine: Engine) -> Iterator[Connection]:
    """A connection holding the store-wide migration lock (two `serve`s starting at once)."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("select pg_advisory_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            connection.commit()
            try:
                yield connection
            finally:
                connection.execute(text("select pg_advisory_unlock(:key)"),
                                   {"key": _PG_MIGRATION_LOCK})
                connection.commit()
            return
        database = engine.url.database
        if engine.dialect.name == "sqlite" and database and database != ":memory:":
            with open(f"{database}.migrate-lock", "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield connection
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
            return
        yield connection


def _legacy_light_migration(connection: Connection) -> None:
    """What `init_db` did before migrations: add missing nullable columns and indexes."""
    metadata = target_metadata()
    inspector = inspect(connection)
    # Only tables the store has: a table a later revision creates is that revision's to make.
    existing = set(inspector.get_table_names())
    tables = [table for table in metadata.sorted_tables if table.name in existing]
    for table in tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                column_type = column.type.compile(dialect=connection.dialect)
                connection.execute(
                    text(f'alter table {table.name} add column "{column.name}" {column_type}')
                )
    for table in tables:
        for index in table.indexes:
            index.create(connection, checkfirst=True)
    connection.commit()


def upgrade(engine: Engine, *, force: bool = False) -> tuple[str | None, str]:
    """Bring the store to the head revision; (revision before, revision after).

    Done once per database URL per process unless `force` (the `db upgrade` command).
    """
    url = engine.url.render_as_string(hide_password=False)
    with _lock:
        if url in _upgraded and not force:
            head = quick_head() or head_revision()
            return head, head
        if not force and _is_current(engine):
            _upgraded.add(url)
            current = quick_head() or head_revision()
            return current, current
        from alembic import command

        with _exclusive(engine) as connection:
            before = current_revision(connection)
            if before is None and inspect(connection).has_table("tasks"):
                _legacy_light_migration(connection)
                command.stamp(_config(connection), INITIAL_REVISION)
                connection.commit()
                before = current_revision(connection)
            command.upgrade(_config(connection), "head")
            connection.commit()
            after = current_revision(connection)
        _upgraded.add(url)
        assert after is not None
        return before, after


def forget(engine: Engine) -> None:
    """Let the next `upgrade` on this engine's URL run again (after a restore replaced it)."""
    with _lock:
        _upgraded.discard(engine.url.render_as_string(hide_password=False))


def drift(connection: Connection) -> list[Any]:
    """Differences between the models and the migrated database (empty when in step)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, target_metadata()))

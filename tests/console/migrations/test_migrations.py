"""Alembic migrations: the models and the migrated schema agree, and a store made by the code
before migrations (with data in it) upgrades on SQLite and PostgreSQL losing nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from console.migrations import (
    INITIAL_REVISION,
    current_revision,
    drift,
    head_revision,
    quick_head,
    upgrade,
)
from console.models.identity import Role
from console.platform.db import new_session
from tests.factories import add_practice, add_task, add_user
from tests.postgres import fresh_database

DRIFT_HELP = (
    "the models and the migrations disagree: a column, table or index was added or changed "
    "without an Alembic revision. Add one (docs/operations.md, 'Adding a schema revision'):\n"
)


def _sqlite(path: Path) -> Engine:
    return create_engine(f"sqlite:///{path}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def blank(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database of each kind."""
    if request.param == "sqlite":
        engine = _sqlite(tmp_path / "store.db")
        yield engine
        engine.dispose()
        return
    with fresh_database("loopdesk_migrate") as url:
        engine = create_engine(url)
        yield engine
        engine.dispose()


def test_the_migrated_schema_matches_the_models(blank: Engine) -> None:
    upgrade(blank, force=True)
    with blank.connect() as connection:
        differences = drift(connection)
        assert current_revision(connection) == head_revision()
    assert differences == [], DRIFT_HELP + "\n".join(map(str, differences))


def _old_store(engine: Engine) -> dict[str, int]:
    """A store as `init_db` made it before migrations (create_all), with data; row counts."""
    import console.models.registry  # noqa: F401

    SQLModel.metadata.create_all(engine)
    with new_session(engine) as session:
        practice = add_practice(session, "alpha")
        add_user(session, "coord@agency.test", practices=["alpha"])
        add_user(session, "boss@agency.test", role=Role.manager)
        for value in (1000, 2000, 3000):
            add_task(session, practice, case_value=value)
    return _counts(engine)


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        tables = [t for t in inspect(connection).get_table_names() if t != "alembic_version"]
        return {t: int(connection.execute(text(f'select count(*) from "{t}"')).scalar_one())
                for t in tables}


def test_a_store_from_before_migrations_upgrades_losing_nothing(blank: Engine) -> None:
    before = _old_store(blank)
    assert before["tasks"] == 3 and before["users"] == 2
    was, now = upgrade(blank, force=True)
    assert (was, now) == (INITIAL_REVISION, head_revision())
    assert _counts(blank) == before
    with blank.connect() as connection:
        assert drift(connection) == []
    # Running it again is a no-op.
    assert upgrade(blank, force=True) == (head_revision(), head_revision())
    assert _counts(blank) == before


def test_an_older_store_missing_a_nullable_column_gets_it(tmp_path: Path) -> None:
    engine = _sqlite(tmp_path / "old.db")
    _old_store(engine)
    with engine.begin() as connection:
        connection.execute(text("alter table tasks drop column close_reason"))
    upgrade(engine, force=True)
    with engine.connect() as connection:
        assert "close_reason" in {c["name"] for c in inspect(connection).get_columns("tasks")}
        assert drift(connection) == []
    assert _counts(engine)["tasks"] == 3


def test_the_quick_head_check_agrees_with_alembic() -> None:
    """Start-up reads the head from the revision files' text; it must be Alembic's head."""
    assert quick_head() == head_revision()


def test_the_old_rank_indexes_are_dropped(tmp_path: Path) -> None:
    engine = _sqlite(tmp_path / "ranked.db")
    _old_store(engine)
    with engine.begin() as connection:
        connection.execute(text("create index ix_tasks_rank on tasks (rank_key)"))
    upgrade(engine, force=True)
    with engine.connect() as connection:
        names = {index["name"] for index in inspect(connection).get_indexes("tasks")}
        assert "ix_tasks_rank" not in names
        assert drift(connection) == []

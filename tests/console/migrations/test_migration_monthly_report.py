"""Revision 0003 (monthly report): a store from before migrations that predates the report's
columns and table gets them; one made by the light migration that already had them upgrades
too; at revision 0002 the upgrade adds exactly them. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from console.migrations import current_revision, drift, head_revision, upgrade
from console.platform.db import new_session
from tests.factories import add_practice
from tests.postgres import fresh_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A store as the code made it before migrations (create_all), with one practice."""
    import console.models.registry  # noqa: F401

    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'store.db'}")
        SQLModel.metadata.create_all(engine)
        with new_session(engine) as session:
            add_practice(session, "alpha")
        yield engine
        engine.dispose()
        return
    with fresh_database("loopdesk_report_migrate") as url:
        engine = create_engine(url)
        SQLModel.metadata.create_all(engine)
        with new_session(engine) as session:
            add_practice(session, "alpha")
        yield engine
        engine.dispose()


def _report_schema(engine: Engine) -> tuple[set[str], bool]:
    with engine.connect() as connection:
        inspector = inspect(connection)
        columns = {c["name"] for c in inspector.get_columns("practice_settings")}
        return columns & {"monthly_fee", "report_recipients"}, inspector.has_table(
            "message_attachments")


def test_a_store_without_the_report_schema_gets_it(old_store: Engine) -> None:
    with old_store.begin() as connection:
        connection.execute(text("drop table message_attachments"))
        connection.execute(text("alter table practice_settings drop column monthly_fee"))
        connection.execute(text("alter table practice_settings drop column report_recipients"))
    assert _report_schema(old_store) == (set(), False)
    upgrade(old_store, force=True)
    assert _report_schema(old_store) == ({"monthly_fee", "report_recipients"}, True)
    with old_store.connect() as connection:
        assert drift(connection) == []
        assert current_revision(connection) == head_revision()
        fees = connection.execute(text("select practice_slug, monthly_fee "
                                       "from practice_settings")).all()
    assert [tuple(row) for row in fees] == [("alpha", None)]


def test_a_store_that_already_has_it_upgrades_unchanged(old_store: Engine) -> None:
    assert _report_schema(old_store) == ({"monthly_fee", "report_recipients"}, True)
    upgrade(old_store, force=True)
    with old_store.connect() as connection:
        assert drift(connection) == []
        assert current_revision(connection) == head_revision()


def test_from_revision_0002_the_upgrade_adds_the_report_schema(tmp_path: Path) -> None:
    from alembic import command

    from console.migrations import _config

    engine = create_engine(f"sqlite:///{tmp_path / 'at-0002.db'}")
    with engine.connect() as connection:
        command.upgrade(_config(connection), "0002")
        connection.commit()
    assert _report_schema(engine) == (set(), False)
    upgrade(engine, force=True)
    assert _report_schema(engine) == ({"monthly_fee", "report_recipients"}, True)
    engine.dispose()

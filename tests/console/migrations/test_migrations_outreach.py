"""Revision 0005 (issue 16) upgrades a store at 0004 keeping its messages (SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine

from console.migrations import _config, current_revision, drift, head_revision, upgrade
from tests.postgres import fresh_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def at_0004(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A store migrated to revision 0004 (before issue 16) with one message in it."""
    with ExitStack() as stack:
        url = (f"sqlite:///{tmp_path / 'store.db'}" if request.param == "sqlite"
               else stack.enter_context(fresh_database("loopdesk_mig16")))
        engine = create_engine(url)
        stack.callback(engine.dispose)
        with engine.connect() as connection:
            command.upgrade(_config(connection), "0004")
            connection.commit()
            connection.execute(text(
                "insert into messages (idempotency_key, practice_slug, subject_type, subject_id,"
                " purpose, channel, template, recipient, subject, body, status, attempts,"
                " created_at, follow_up_checked) values ('k', 'p', 'patient', 'p-1', 'ask',"
                " 'email', 'ask_email', 'ann@example.test', 'Hi', 'Body', 'sent', 1,"
                " '2026-11-26 15:00:00', false)"))
            connection.commit()
        yield engine


def test_revision_0005_adds_the_outreach_schema_and_keeps_messages(at_0004: Engine) -> None:
    upgrade(at_0004, force=True)
    with at_0004.connect() as connection:
        assert current_revision(connection) == head_revision()
        assert drift(connection) == []
        inspector = inspect(connection)
        columns = {c["name"] for c in inspector.get_columns("messages")}
        unique = {i["name"]: i["unique"] for i in inspector.get_indexes("inbound_replies")}
        assert {"delivery_key", "body_html", "unsubscribe_url"} <= columns
        assert bool(unique["ux_inbound_provider_message"]) is True
        assert inspector.has_table("undeliverable_addresses")
        kept = connection.execute(text("select recipient, delivery_key from messages")).all()
    assert [tuple(row) for row in kept] == [("ann@example.test", None)]

"""Revision 0007 (issue 14) rebuilds audit_events keeping a sealed chain intact (SQLite, PG)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from console.identity.audit import (
    GENESIS_HASH,
    Action,
    Outcome,
    _Values,
    event_hash,
    record,
    verify_chain,
)
from console.migrations import _config, current_revision, drift, head_revision, upgrade
from console.platform.db import new_session
from tests.console.access_helpers import NOW
from tests.postgres import fresh_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def at_0006(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A store at revision 0006 whose audit log holds a three-event chain (old schema)."""
    with ExitStack() as stack:
        url = (f"sqlite:///{tmp_path / 'store.db'}" if request.param == "sqlite"
               else stack.enter_context(fresh_database("loopdesk_mig14")))
        engine = create_engine(url)
        stack.callback(engine.dispose)
        with engine.connect() as connection:
            command.upgrade(_config(connection), "0006")
            connection.commit()
            prev = GENESIS_HASH
            for seq in (1, 2, 3):
                at = NOW + timedelta(seconds=seq, microseconds=321)
                content = _Values(seq, at, f"user:{seq}", "login", None, None, "success")
                digest = event_hash(prev, content)
                connection.execute(text(
                    "insert into audit_events (seq, occurred_at, actor, action, practice_slug,"
                    " object_ref, outcome, prev_hash, hash) values (:seq, :at, :actor, 'login',"
                    " null, null, 'success', :prev, :hash)"),
                    {"seq": seq, "at": at, "actor": f"user:{seq}", "prev": prev, "hash": digest})
                prev = digest
            connection.commit()
        yield engine


def test_revision_0007_keeps_the_chain_and_appends_continue_it(at_0006: Engine) -> None:
    upgrade(at_0006, force=True)
    with at_0006.connect() as connection:
        assert current_revision(connection) == head_revision()
        assert drift(connection) == []
        kept = connection.execute(text("select id, seq from audit_events order by id")).all()
    assert [tuple(row) for row in kept] == [(1, 1), (2, 2), (3, 3)]
    with new_session(at_0006) as session:
        assert verify_chain(session=session) is None
        event = record(session=session, actor="user:9", action=Action.claim, practice_slug="a",
                       object_ref="task:1", outcome=Outcome.success, now=NOW)
        session.commit()
        assert (event.id, event.seq) == (4, 4)  # the id sequence continues after the copy
        assert verify_chain(session=session) is None

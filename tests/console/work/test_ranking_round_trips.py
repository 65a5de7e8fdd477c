"""A ranking for claims makes four statements: the hour factors' stamp with the practices'
zones, the top-K, the practices' facts, and the contact gate's consent and touches
(console/work/ranking.py `_stamp_and_zones`, console/contact/gate.py `_gate_reads_statement`;
six before: under 16 claimers each round trip of the thread ranking ahead waits for the GIL
when it comes back). The ranking and the verdicts are unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from console.models.work import ConsentEvent, Touch
from console.platform.db import get_engine, init_db, new_session
from console.work.ranking import gate_all, ranked
from tests.factories import NOW, add_practice, bulk_tasks, sqlite_engine
from tests.postgres import fresh_database
from warehouse.scope import Scope


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, loopdesk_home: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        yield sqlite_engine(loopdesk_home)
        return
    with fresh_database("loopdesk_ranking_trips") as url:
        made = get_engine(url)
        init_db(made)
        yield made
        made.dispose()


def test_a_ranking_for_claims_is_four_statements_with_the_same_verdicts(engine: Engine) -> None:
    with new_session(engine) as session:
        ny = add_practice(session)
        la = add_practice(session, "smile-la", timezone="America/Los_Angeles")
        bulk_tasks(session, ny, 40)
        bulk_tasks(session, la, 40)
        # smile-ny's bulk-1 was called an hour ago and bulk-2 revoked call consent: neither
        # may pass (smile-la's people of the same ids are others; its zone is closed at NOW).
        session.add(Touch(practice_slug="smile-ny", subject_type="patient", subject_id="bulk-1",
                          channel="call", disposition="no_answer", minutes=2,
                          started_at=NOW - timedelta(hours=1)))
        # (The event alone: revoke_consent would also cancel the person's task.)
        session.add(ConsentEvent(practice_slug="smile-ny", subject_type="patient",
                                 subject_id="bulk-2", channel="call", granted=False,
                                 source="inbound", at=NOW - timedelta(days=1)))
        session.commit()
        statements: list[str] = []

        def note(*args: object) -> None:
            statements.append(str(args[2]))

        for second in (False, True):  # (the second with the hour factors cached)
            statements.clear()
            event.listen(engine, "before_cursor_execute", note)
            try:
                scored, practices = ranked(session, scope=Scope(agency_wide=True), now=NOW,
                                           callable_only=True, escalated=False, wanted=64)
                gate_all(session, scored, practices, NOW)
            finally:
                event.remove(engine, "before_cursor_execute", note)
            session.rollback()
            # (SQLite's BEGIN is the store's own, db._configure_sqlite; the pool's ping aside)
            reads = [s for s in statements
                     if s.lstrip().upper().startswith(("SELECT", "WITH"))
                     and s.strip().upper() != "SELECT 1"]
            assert len(reads) == (4 if second else 5), reads  # the first reads the factors too
        refused = {s.row.subject_id: s.gate.reason for s in scored if not s.gate.ok}
        assert refused == {"bulk-1": "already contacted today",
                           "bulk-2": "no consent for this channel"}
        assert len(scored) == 40 and set(practices) == {"smile-ny"}

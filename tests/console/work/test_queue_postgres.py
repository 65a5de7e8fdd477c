"""The PostgreSQL statements (per-practice window, SKIP LOCKED lease, audit) behave as on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.identity.audit import verify_chain
from console.models.identity import Role
from console.platform.db import get_engine, init_db, new_session
from console.work.claims import claim_next, list_queue
from tests.console.work.test_claims_concurrency import pg_url  # noqa: F401  (fixture)
from tests.console.work.test_ranking import _brute_force, _seed
from tests.factories import NOW, add_worker


@pytest.mark.postgres
def test_scoped_and_agency_queues_and_claims_on_postgres(
    loopdesk_home: Path, pg_url: str,  # noqa: F811
) -> None:
    engine = get_engine(pg_url)
    init_db(engine)
    try:
        with new_session(engine) as session:
            _seed(session, 6)
            coordinator = add_worker(session, practices=["a", "c"])
            manager = add_worker(session, role=Role.manager)
            everything = _brute_force(session)
            mine = [e.task_id for e in list_queue(session=session, user=coordinator, now=NOW,
                                                  limit=100)]
            practice_of = {e.task_id: e.practice_slug
                           for e in list_queue(session=session, user=manager, now=NOW,
                                               limit=100)}
            assert list(practice_of) == everything
            assert mine == [t for t in everything if practice_of[t] in ("a", "c")]
            claimed = claim_next(session=session, user=coordinator, now=NOW)
            assert claimed is not None and claimed.practice_slug in ("a", "c")
            assert verify_chain(session=session) is None
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_postgres_claim_appends_its_event_in_the_lease_statement(
    loopdesk_home: Path, pg_url: str,  # noqa: F811
) -> None:
    """The claim's event is written by the lease itself (unsealed, no chain lock) and joins
    the chain at the next seal; a lost lease appends nothing."""
    from datetime import timedelta

    from sqlalchemy import text

    from console.contact.gate import CallBounds
    from console.identity.audit import seal, unsealed
    from console.platform.db import begin_write
    from console.work.claims import _Candidate, _lease_audited

    engine = get_engine(pg_url)
    init_db(engine)
    try:
        with new_session(engine) as session:
            _seed(session, 2)
            coordinator = add_worker(session, practices=["a", "b"])
            claimed = claim_next(session=session, user=coordinator, now=NOW)
            assert claimed is not None
            events = session.execute(text(
                "select actor, action, practice_slug, object_ref, outcome, seq"
                " from audit_events")).all()
            assert [tuple(e) for e in events] == [
                (f"user:{coordinator.user_id}", "claim", claimed.practice_slug,
                 f"task:{claimed.task_id}", "success", None)]
            assert unsealed(session=session).count == 1
            rival = add_worker(session, practices=["a", "b"])
            begin_write(session)  # the rival's lease of the same task at the version it read
            bounds = CallBounds(day_start=NOW, week_start=NOW, per_day=1, per_week=3)
            lost = _lease_audited(session, user=rival,
                                  candidates=[_Candidate(claimed.task_id or 0, 0, bounds)],
                                  escalated=False, now=NOW, lease=timedelta(minutes=15))
            session.commit()
            assert lost is None
            assert seal(session=session).sealed == 1
            assert unsealed(session=session).count == 0
            assert verify_chain(session=session) is None
            count = session.execute(text("select count(*) from audit_events")).scalar_one()
            assert count == 1
    finally:
        engine.dispose()

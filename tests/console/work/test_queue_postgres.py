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

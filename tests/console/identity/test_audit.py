"""The hash-chained audit log: append, verify, detect tampering, scope reads (SECURITY 21)."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

from sqlalchemy import text
from sqlmodel import Session, select

from console.identity import audit
from console.identity.audit import GENESIS_HASH, Action, Outcome, list_events, record, verify_chain
from console.models.identity import AuditEvent
from tests.console.access_helpers import NOW, cheap_argon2, store
from warehouse.scope import Scope

__all__ = ["cheap_argon2", "store"]


def _fill(session: Session) -> None:
    for index, practice in enumerate(["alpha", "beta", None, "alpha"]):
        record(
            session=session, actor=f"user:{index}", action=Action.claim, practice_slug=practice,
            object_ref=f"task:{index}", outcome=Outcome.success,
            now=NOW + timedelta(seconds=index, microseconds=123),
        )
    session.commit()


def test_chain_links_each_event_to_the_previous(store: Session) -> None:
    _fill(store)
    events = store.exec(select(AuditEvent).order_by(AuditEvent.seq)).all()  # type: ignore[arg-type]
    assert [event.seq for event in events] == [1, 2, 3, 4]
    assert events[0].prev_hash == GENESIS_HASH
    assert all(later.prev_hash == earlier.hash for earlier, later in pairwise(events))
    assert verify_chain(session=store) is None


def test_empty_log_verifies(store: Session) -> None:
    assert verify_chain(session=store) is None


def test_editing_a_row_is_detected(store: Session) -> None:
    _fill(store)
    store.exec(text("update audit_events set outcome = 'failure' where seq = 2"))  # type: ignore[call-overload]
    store.commit()
    store.expire_all()
    assert verify_chain(session=store) == 2


def test_editing_the_time_is_detected(store: Session) -> None:
    _fill(store)
    event = store.get(AuditEvent, 3)
    assert event is not None
    event.occurred_at = event.occurred_at - timedelta(days=1)
    store.add(event)
    store.commit()
    assert verify_chain(session=store) == 3


def test_deleting_a_row_is_detected(store: Session) -> None:
    _fill(store)
    store.exec(text("delete from audit_events where seq = 2"))  # type: ignore[call-overload]
    store.commit()
    assert verify_chain(session=store) == 3


def test_rewriting_a_row_with_its_own_hash_is_detected_downstream(store: Session) -> None:
    """A forger who recomputes the edited row's hash still breaks the next link."""
    _fill(store)
    event = store.get(AuditEvent, 2)
    assert event is not None
    event.actor = "user:99"
    event.hash = audit.event_hash(event.prev_hash, event)
    store.add(event)
    store.commit()
    assert verify_chain(session=store) == 3


def test_hash_survives_a_round_trip_through_the_store(store: Session) -> None:
    _fill(store)
    store.expunge_all()
    assert verify_chain(session=store) is None


def test_scoped_reads_see_only_their_practices(store: Session) -> None:
    _fill(store)
    assert len(list_events(session=store, scope=Scope.agency())) == 4
    alpha = list_events(session=store, scope=Scope.of(["alpha"]))
    assert [event.seq for event in alpha] == [4, 1]
    assert list_events(session=store, scope=Scope.of(["alpha"]), practice_slug="beta") == []
    assert list_events(session=store, scope=Scope()) == []
    since = list_events(session=store, scope=Scope.agency(), since=NOW + timedelta(seconds=2))
    assert [event.seq for event in since] == [4, 3]


def test_retention_is_six_years() -> None:
    assert audit.AUDIT_RETENTION_YEARS == 6


def test_concurrent_appends_on_sqlite_file_keep_one_chain(loopdesk_home: object) -> None:
    """Threads appending through the real store (WAL, busy timeout) never fork the chain."""
    from concurrent.futures import ThreadPoolExecutor

    from console.platform.db import get_engine, init_db, new_session

    engine = get_engine()
    init_db(engine)

    def append(worker: int) -> None:
        for index in range(10):
            with new_session(engine) as session:
                record(
                    session=session, actor=f"user:{worker}", action=Action.claim,
                    practice_slug="alpha", object_ref=f"task:{index}", outcome=Outcome.success,
                    now=NOW,
                )
                session.commit()

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(append, range(6)))
    with new_session(engine) as session:
        assert audit.count_events(session=session) == 60
        assert verify_chain(session=session) is None

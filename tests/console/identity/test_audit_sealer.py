"""The audit sealer (issue 14): appends that never wait for the chain lock, sealed in batches.

Every test runs on a SQLite file store and on PostgreSQL (CI=true: must run, never skip).
On SQLite an append always seals inline (one writer at a time); rows left unsealed there are
made by inserting them as an append that lost the lock on PostgreSQL would.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import console.models  # noqa: F401  (registers every table)
from console.identity import audit
from console.identity.audit import (
    Action,
    Outcome,
    count_events,
    record,
    seal,
    seal_forever,
    unsealed,
    verify_chain,
)
from console.platform.db import get_engine, init_db, new_session
from tests.console.access_helpers import NOW
from tests.postgres import fresh_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, loopdesk_home: Path) -> Iterator[Engine]:
    """The real store engine (SQLite file: WAL, busy timeout) or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        sqlite = get_engine()
        init_db(sqlite)
        yield sqlite
        return
    with ExitStack() as stack:
        url = stack.enter_context(fresh_database("loopdesk_seal"))
        pg = create_engine(url, pool_size=10, max_overflow=0)
        stack.callback(pg.dispose)
        SQLModel.metadata.create_all(pg)
        yield pg


def _append_unsealed(engine: Engine, count: int, start: int = 0) -> None:
    """Rows as an append that did not get the chain lock leaves them (seq, hashes NULL)."""
    with engine.begin() as connection:
        for index in range(start, start + count):
            connection.execute(audit._INSERT, {
                "occurred_at": NOW + timedelta(seconds=index), "actor": f"user:{index}",
                "action": "claim", "practice_slug": "alpha", "object_ref": f"task:{index}",
                "outcome": "success", "seq": None, "prev_hash": None, "hash": None})


def _append(engine: Engine, index: int) -> None:
    with new_session(engine) as session:
        record(session=session, actor=f"user:{index}", action=Action.claim,
               practice_slug="alpha", object_ref=f"task:{index}", outcome=Outcome.success,
               now=NOW + timedelta(seconds=index))
        session.commit()


def _sealed(engine: Engine) -> list[tuple[int, int]]:
    with engine.connect() as connection:
        rows = connection.execute(text(
            "select seq, id from audit_events where seq is not null order by seq")).all()
    return [(int(seq), int(row_id)) for seq, row_id in rows]


def test_the_sealer_links_the_unsealed_tail_in_append_order(engine: Engine) -> None:
    _append(engine, 0)
    _append_unsealed(engine, 5, start=1)
    with new_session(engine) as session:
        tail = unsealed(session=session)
        assert (tail.count, tail.oldest_at) == (5, NOW + timedelta(seconds=1))
        assert verify_chain(session=session) is None  # the sealed part (one row) is intact
        result = seal(session=session)
        assert (result.sealed, result.head_seq) == (5, 6)
        assert unsealed(session=session).count == 0
        assert verify_chain(session=session) is None
        assert seal(session=session).sealed == 0
    assert _sealed(engine) == [(seq, seq) for seq in range(1, 7)]
    _append(engine, 7)  # an append after the seal continues the chain
    assert _sealed(engine)[-1] == (7, 7)


def test_a_backlog_is_sealed_in_batches(engine: Engine) -> None:
    _append_unsealed(engine, 7)
    with new_session(engine) as session:
        assert seal(session=session, batch=3).sealed == 7
        assert verify_chain(session=session) is None
    assert [seq for seq, _ in _sealed(engine)] == list(range(1, 8))


def _sealed_store(engine: Engine) -> None:
    _append_unsealed(engine, 5)
    with new_session(engine) as session:
        seal(session=session)


def _verify(engine: Engine) -> int | None:
    with new_session(engine) as session:
        return verify_chain(session=session)


def test_an_edited_sealed_row_is_detected(engine: Engine) -> None:
    _sealed_store(engine)
    with engine.begin() as connection:
        connection.execute(text("update audit_events set outcome = 'failure' where seq = 3"))
    assert _verify(engine) == 3


def test_a_deleted_sealed_row_is_detected(engine: Engine) -> None:
    _sealed_store(engine)
    with engine.begin() as connection:
        connection.execute(text("delete from audit_events where seq = 2"))
    assert _verify(engine) == 3


def test_a_reordered_pair_of_sealed_rows_is_detected(engine: Engine) -> None:
    _sealed_store(engine)
    with engine.begin() as connection:  # rows 2 and 3 swap places in the chain
        connection.execute(text("update audit_events set seq = -2 where seq = 2"))
        connection.execute(text("update audit_events set seq = 2 where seq = 3"))
        connection.execute(text("update audit_events set seq = 3 where seq = -2"))
    assert _verify(engine) == 2


def test_a_row_unsealed_behind_the_chain_is_detected(engine: Engine) -> None:
    """Setting a sealed row's seq back to NULL (to have it re-sealed later) breaks the chain."""
    _sealed_store(engine)
    with engine.begin() as connection:
        connection.execute(text(
            "update audit_events set seq = null, prev_hash = null, hash = null where seq = 2"))
    assert _verify(engine) == 3
    with new_session(engine) as session:
        seal(session=session)
    assert _verify(engine) == 3


def test_the_timer_notices_its_last_head_changed(engine: Engine,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """serve's sealer remembers the head it sealed; an edit of it is logged the next round."""
    _append_unsealed(engine, 3)
    stop = threading.Event()
    rounds: list[float] = []

    def between_rounds(interval: float) -> bool:
        rounds.append(interval)
        if len(rounds) == 1:
            with engine.begin() as connection:
                connection.execute(text("update audit_events set actor = 'x' where seq = 3"))
            return False
        return True

    with caplog.at_level(logging.INFO, logger="console.identity.audit"):
        seal_forever(engine, interval_s=5.0, stop=stop, wait=between_rounds)
    assert rounds == [5.0, 5.0]
    messages = [r.getMessage() for r in caplog.records]
    assert any("sealed 3 events; head seq 3" in m for m in messages)
    assert any("changed behind the sealer: seq 3" in m for m in messages)


def test_concurrent_writers_and_a_sealer_leave_one_intact_chain(engine: Engine) -> None:
    """Six threads append while a seventh seals; afterwards the whole log is one chain."""
    done = threading.Event()

    def sealer() -> int:
        passes = 0
        with new_session(engine) as session:
            while not done.is_set():
                seal(session=session)
                passes += 1
        return passes

    def writer(worker: int) -> None:
        for index in range(20):
            _append(engine, worker * 100 + index)

    with ThreadPoolExecutor(max_workers=7) as pool:
        sealing = pool.submit(sealer)
        list(pool.map(writer, range(6)))
        done.set()
        assert sealing.result() >= 1
    with new_session(engine) as session:
        seal(session=session)
        assert count_events(session=session) == 120
        assert unsealed(session=session).count == 0
        assert verify_chain(session=session) is None
    assert [seq for seq, _ in _sealed(engine)] == list(range(1, 121))


@pytest.mark.postgres
def test_an_append_does_not_wait_for_a_sealer(loopdesk_home: Path) -> None:
    """While another transaction holds the chain lock, an append commits at once, unsealed
    (the old append waited for that lock: with a lock timeout it fails here)."""
    with fresh_database("loopdesk_seal") as url:
        pg = create_engine(url, pool_size=4, max_overflow=0)
        try:
            SQLModel.metadata.create_all(pg)
            with pg.connect() as holder:
                holder.execute(text("select pg_advisory_xact_lock(:key)"),
                               {"key": audit._PG_CHAIN_LOCK})
                with new_session(pg) as session:
                    session.connection().execute(text("set local lock_timeout = '2s'"))
                    record(session=session, actor="user:1", action=Action.claim,
                           practice_slug="alpha", object_ref="task:1",
                           outcome=Outcome.success, now=NOW)
                    session.commit()
                    assert unsealed(session=session).count == 1
                holder.rollback()
            with new_session(pg) as session:
                assert seal(session=session).sealed == 1
                assert verify_chain(session=session) is None
                assert unsealed(session=session).count == 0
        finally:
            pg.dispose()

"""SQLite group commit (`db.grouped_write`): the units other threads queue while a leader
writes share one transaction; a unit that fails is taken out without losing the others."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from console.platform import db
from console.platform.db import get_engine, grouped_write, init_db, new_session


@pytest.fixture
def engine(loopdesk_home: Path) -> Engine:
    engine = get_engine()
    init_db(engine)
    with engine.begin() as connection:
        connection.execute(text("create table marks (name text primary key, thread text)"))
    return engine


def _group(engine: Engine) -> Any:
    return getattr(engine, db._GROUP_ATTRIBUTE)


def _mark(name: str) -> Any:
    def work(session: Session) -> str:
        session.execute(text("insert into marks (name, thread) values (:n, :t)"),
                        {"n": name, "t": threading.current_thread().name})
        return name
    return work


def _marks(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return [r[0] for r in connection.execute(text("select name from marks order by name"))]


class _Arrivals(list[Any]):
    """A queue that tells when `count` units have arrived (no sleeping in the test)."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.wanted, self.full = count, threading.Event()

    def append(self, unit: Any) -> None:
        super().append(unit)
        if len(self) >= self.wanted:
            self.full.set()


def test_units_queued_behind_a_leader_share_one_transaction(engine: Engine) -> None:
    group = _group(engine)
    before = group.transactions
    results: dict[str, Any] = {}
    followers = [f"f{i}" for i in range(3)]

    def follow(name: str) -> None:
        with new_session(engine) as session:
            results[name] = grouped_write(session, _mark(name))

    threads = [threading.Thread(target=follow, args=(name,), name=name) for name in followers]

    def lead(session: Session) -> str:
        # While the leader's transaction is open, three threads queue their units.
        group.queue = arrivals = _Arrivals(len(followers))
        for thread in threads:
            thread.start()
        assert arrivals.full.wait(timeout=30)
        return _mark("leader")(session)

    with new_session(engine) as session:
        assert grouped_write(session, lead) == "leader"
    for thread in threads:
        thread.join(timeout=30)
    assert results == {name: name for name in followers}
    assert _marks(engine) == ["f0", "f1", "f2", "leader"]
    # The leader's own transaction, then one for the three queued units, written by one
    # thread: the next leader, one of their owners (a leader leads one batch).
    assert group.transactions - before == 2
    with engine.connect() as connection:
        writers = [r[0] for r in connection.execute(
            text("select thread from marks where name != 'leader'"))]
    assert len(set(writers)) == 1 and writers[0] in followers


def test_a_failing_unit_is_taken_out_and_the_others_still_commit(engine: Engine) -> None:
    group = _group(engine)
    before = group.transactions

    def broken(session: Session) -> None:
        _mark("broken")(session)
        raise ValueError("this unit fails")

    units = [db._Unit(_mark("a")), db._Unit(broken), db._Unit(_mark("b")),
             db._Unit(_mark("a"))]  # the last one breaks the primary key: taken out too
    group.queue = list(units)
    with new_session(engine) as session:
        db._lead(session, group)
    assert [u.finished for u in units] == [True] * 4
    assert all(u.done.is_set() for u in units)
    assert units[0].result == "a" and units[0].error is None
    assert isinstance(units[1].error, ValueError)
    assert units[2].result == "b" and units[2].error is None
    assert units[3].error is not None and "UNIQUE" in str(units[3].error)
    assert _marks(engine) == ["a", "b"]  # the broken unit's own insert was rolled back
    assert group.transactions - before == 1


def test_a_failing_unit_raises_in_its_owners_thread(engine: Engine) -> None:
    def broken(session: Session) -> None:
        raise ValueError("mine")

    with new_session(engine) as session, pytest.raises(ValueError, match="mine"):
        grouped_write(session, broken)
    with new_session(engine) as session:
        assert grouped_write(session, _mark("after")) == "after"
    assert _marks(engine) == ["after"]


def test_a_failure_outside_the_units_reaches_every_waiting_owner(
    engine: Engine, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """BEGIN IMMEDIATE timing out behind another process fails the whole batch: each owner
    gets that error (a lock conflict `retrying` can absorb), and the leader carries on."""
    from sqlalchemy.exc import OperationalError

    def locked(session: Session) -> None:
        raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))

    monkeypatch.setattr(db, "begin_write", locked)
    group = _group(engine)
    units = [db._Unit(_mark("a")), db._Unit(_mark("b"))]
    group.queue = list(units)
    with new_session(engine) as session:
        db._lead(session, group)
    assert all(u.finished and u.done.is_set() for u in units)
    assert all(db.is_lock_conflict(u.error) for u in units if u.error is not None)
    assert all(u.error is not None for u in units)
    monkeypatch.undo()
    assert _marks(engine) == []

"""Claim windows shared between processes: a ranking made while claims run side by side is
published to `claim_windows`, and another process adopts it instead of ranking the same queue
(console/work/window.py). "Another process" is a second publisher token here; the lock test
forks a real one."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from console.models.work import ClaimWindow
from console.platform.db import get_engine, init_db, new_session
from console.work import window
from console.work.claims import claim_next
from tests.console.work.test_claims_concurrency import pg_url  # noqa: F401  (fixture)
from tests.factories import NOW, add_practice, add_task, add_worker, session_for, sqlite_engine

LATER = NOW + timedelta(milliseconds=100)
HANG = 30.0  # a guard against a hung test only


@pytest.fixture(autouse=True)
def _no_windows() -> Iterator[None]:
    window.forget_windows()
    yield
    window.forget_windows()


def _as_process(monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    """Act as the process with publisher `token`, holding no window yet."""
    window.forget_windows()
    monkeypatch.setattr(window, "_PROCESS", [token])


def _world(session: Any) -> tuple[list[Any], Any]:
    practice = add_practice(session)
    tasks = [add_task(session, practice, case_value=9000 - 100 * i) for i in range(6)]
    return tasks, add_worker(session, practices=["smile-ny"])


def _refresh(session: Any, user: Any, now: Any, *, rank: bool = True) -> Any:
    slot = window.slot_for(session, window.scope_key(user.work_scope, user.sees_escalated))
    return slot, window._refresh(session, slot, scope=user.work_scope,
                                 escalated=user.sees_escalated, now=now, shared=True, rank=rank)


def test_a_window_another_process_published_is_adopted_and_claimed_from(
    loopdesk_home: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        tasks, user = _world(session)
        _as_process(monkeypatch, "a")
        slot, made = _refresh(session, user, NOW)
        assert slot.refreshes == 1 and slot.published == 1
        assert session.execute(select(func.count()).select_from(ClaimWindow)).scalar() == 1
        _as_process(monkeypatch, "b")
        other, adopted = _refresh(session, user, LATER, rank=False)
        assert adopted is not None and other.adopted == 1 and other.refreshes == 0
        assert ([s.row.task_id for s in adopted.entries]
                == [s.row.task_id for s in made.entries] == [t.task_id for t in tasks])
        assert adopted.now == NOW  # (its age counts from the publisher's ranking)
        # A claim of process "b" pops the adopted window: the best task, no ranking.
        claimed = claim_next(session=session, user=user, now=LATER)
        assert claimed is not None and claimed.task_id == tasks[0].task_id
        assert other.refreshes == 0
        # What it popped is remembered: a later adoption of the same list skips it.
        assert tasks[0].task_id in other.gone


def test_a_window_is_not_adopted_by_its_publisher_when_old_or_before_a_write(
    loopdesk_home: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        _, user = _world(session)
        _as_process(monkeypatch, "a")
        _refresh(session, user, NOW)
        window.forget_windows()
        assert _refresh(session, user, LATER, rank=False)[1] is None  # its own
        _as_process(monkeypatch, "b")
        assert _refresh(session, user, NOW + timedelta(seconds=2), rank=False)[1] is None  # old
        # This process writes after the ranking began: the window may not show the write.
        add_practice(session, slug="smile-la")
        assert _refresh(session, user, LATER, rank=False)[1] is None
        # A ranking begun after the write is adopted again.
        _as_process(monkeypatch, "a")
        _refresh(session, user, LATER)
        _as_process(monkeypatch, "b")
        assert _refresh(session, user, LATER, rank=False)[1] is not None


def test_the_ranking_lock_is_held_by_one_process_at_a_time_on_sqlite(
    loopdesk_home: Path,
) -> None:
    engine = sqlite_engine(loopdesk_home)
    with session_for(engine) as session:
        _, user = _world(session)
        slot = window.slot_for(session, window.scope_key(user.work_scope, user.sees_escalated))
        context = multiprocessing.get_context("fork")
        held, done = context.Event(), context.Event()
        child = context.Process(target=_hold_lock, args=(str(engine.url), slot.store_key,
                                                         held, done))
        child.start()
        try:
            assert held.wait(HANG)
            assert not window._ranking_lock(session, slot)  # the other process ranks
        finally:
            done.set()
            child.join(HANG)
        assert child.exitcode == 0
        assert window._ranking_lock(session, slot)
        window._ranking_unlock(session, slot)


def _hold_lock(url: str, key: str, held: Any, done: Any) -> None:
    engine = get_engine(url)
    with new_session(engine) as session:
        slot = window._Slot(store_key=key)
        assert window._ranking_lock(session, slot)
        held.set()
        done.wait(HANG)
        window._ranking_unlock(session, slot)


@pytest.mark.postgres
def test_the_ranking_lock_is_held_by_one_session_at_a_time_on_postgres(
    pg_url: str,  # noqa: F811
) -> None:
    engine = get_engine(pg_url)
    init_db(engine)
    slot = window._Slot(store_key=window.store_key((True, frozenset(), True)))
    with new_session(engine) as first, new_session(engine) as second:
        assert window._ranking_lock(first, slot)
        assert not window._ranking_lock(second, slot)
        second.rollback()
        window._ranking_unlock(first, slot)  # (ends its transaction)
        assert window._ranking_lock(second, slot)
        window._ranking_unlock(second, slot)
    engine.dispose()


@pytest.mark.postgres
def test_ranking_ahead_takes_the_lock_and_reads_the_published_window_in_one_statement(
    pg_url: str,  # noqa: F811
) -> None:
    engine = get_engine(pg_url)
    init_db(engine)
    slot = window._Slot(store_key=window.store_key((True, frozenset(), True)))
    statements: list[str] = []

    def grab(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    with new_session(engine) as first, new_session(engine) as second:
        first.execute(window._WINDOWS.insert().values(
            scope_key=slot.store_key, ranked_at=NOW, started_wall=1.0, publisher="other",
            entries="[]"))
        first.commit()
        event.listen(engine, "before_cursor_execute", grab)
        try:
            locked, row = window._lock_and_read(first, slot)
        finally:
            event.remove(engine, "before_cursor_execute", grab)
        assert len(statements) == 1
        assert locked and row is not None and row.publisher == "other"
        # Another session holding the lock: not locked, and the row is still read.
        locked, row = window._lock_and_read(second, slot)
        assert not locked and row is not None and row.ranked_at == NOW
        second.rollback()
        window._ranking_unlock(first, slot)
        first.execute(window._WINDOWS.delete())
        first.commit()
        locked, row = window._lock_and_read(second, slot)
        assert locked and row is None
        window._ranking_unlock(second, slot)
    engine.dispose()

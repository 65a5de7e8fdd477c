"""Ranking ahead of need: in a thread of its own while other claims are in flight (no claimer
waits for it), never for a window only its own ranking claim popped."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from console.platform.db import new_session
from console.work import window
from console.work.claims import claim_next
from tests.factories import NOW, add_practice, add_task, add_worker, session_for, sqlite_engine

# A guard against a hung test only: every wait below is released by the test itself.
HANG = 30.0


@pytest.fixture(autouse=True)
def _no_windows() -> Iterator[None]:
    window.forget_windows()
    yield
    window.forget_windows()


def _slot(session: Any, user: Any) -> Any:
    return window.slot_for(session, window.scope_key(user.work_scope, user.sees_escalated))


def test_a_window_only_its_ranking_claim_popped_is_not_ranked_again_ahead(
    loopdesk_home: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One claim at a time (the console's one user, the simulator): a small window is "low"
    at once, but ranking it again right after the claim was thrown away by the next claim,
    which finds it expired or outdated anyway (the simulator paid ~1.7 rankings a claim)."""
    monkeypatch.setattr(window, "WINDOW_LOW", 10)
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        for value in (9000, 7000, 5000):
            add_task(session, practice, case_value=value)
        user = add_worker(session, practices=["smile-ny"])
        assert claim_next(session=session, user=user, now=NOW) is not None
        assert _slot(session, user).refreshes == 1  # (two left, below 10: low, popped once)
        assert claim_next(session=session, user=user, now=NOW) is not None
        assert _slot(session, user).refreshes == 2  # a second claim popped it: ranked ahead
        assert _slot(session, user).ahead == 0  # (nothing else in flight: in this thread)


def test_with_other_claims_under_way_the_ranking_ahead_runs_in_its_own_thread(
    loopdesk_home: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(window, "WINDOW_LOW", 10)
    engine = sqlite_engine(loopdesk_home)
    with session_for(engine) as session:
        practice = add_practice(session)
        tasks = [add_task(session, practice, case_value=9000 - 100 * i) for i in range(6)]
        user = add_worker(session, practices=["smile-ny"])
        assert claim_next(session=session, user=user, now=NOW) is not None  # ranks, pops 1
        slot = _slot(session, user)
        assert slot.window is not None and slot.refreshes == 1
        # A colleague's claim of this scope is under way right now.
        slot.claiming += 1
        ranking = window._rank_gated
        release = threading.Event()
        rankers: list[str] = []

        def held_ranking(*args: Any, **kwargs: Any) -> Any:
            rankers.append(threading.current_thread().name)
            assert release.wait(HANG)
            return ranking(*args, **kwargs)

        monkeypatch.setattr(window, "_rank_gated", held_ranking)
        second = claim_next(session=session, user=user, now=NOW)
        # The claim returned while the ranking it started is still held: it did not wait.
        assert second is not None and second.task_id == tasks[1].task_id
        assert slot.ahead == 1 and slot.refreshing.locked()
        assert slot.refreshes == 1  # not installed yet
        third = claim_next(session=session, user=user, now=NOW)  # pops the old window
        assert third is not None and third.task_id == tasks[2].task_id
        release.set()
        assert slot.refreshing.acquire(timeout=HANG)  # the ranker is done
        slot.refreshing.release()
        assert rankers == ["loopdesk-rank-ahead"]
        assert slot.refreshes == 2
        assert slot.window is not None
        # The new window left out what was popped while it ranked.
        assert [s.row.task_id for s in slot.window.entries] == [t.task_id for t in tasks[3:]]
    with new_session(engine) as other:
        slot.claiming -= 1
        fourth = claim_next(session=other, user=user, now=NOW)
        assert fourth is not None and fourth.task_id == tasks[3].task_id


def test_a_failed_ranking_ahead_leaves_the_claims_to_rank_themselves(
    loopdesk_home: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(window, "WINDOW_LOW", 10)
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        tasks = [add_task(session, practice, case_value=9000 - 100 * i) for i in range(4)]
        user = add_worker(session, practices=["smile-ny"])
        assert claim_next(session=session, user=user, now=NOW) is not None
        slot = _slot(session, user)
        slot.claiming += 1
        ranking = window._rank_gated
        failed = threading.Event()

        def failing(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread().name == "loopdesk-rank-ahead":
                failed.set()
                raise RuntimeError("store gone")
            return ranking(*args, **kwargs)

        monkeypatch.setattr(window, "_rank_gated", failing)
        second = claim_next(session=session, user=user, now=NOW)
        assert second is not None and second.task_id == tasks[1].task_id
        assert failed.wait(HANG)
        assert slot.refreshing.acquire(timeout=HANG)  # released by the failed ranker
        slot.refreshing.release()
        assert slot.refreshes == 1
        slot.claiming -= 1
        claimed = [claim_next(session=session, user=user, now=NOW) for _ in range(3)]
        assert [c.task_id if c else None for c in claimed] == [tasks[2].task_id,
                                                               tasks[3].task_id, None]


def test_a_claim_waits_for_a_ranking_holding_no_pooled_connection(
    loopdesk_home: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A ranker thread takes a connection from the pool the claimers use: claimers queued for
    its ranking must not hold them all (with 8 connections and 8 claimers of one scope the
    ranking would wait for the pool's timeout, and the claimers for the ranking)."""
    engine = sqlite_engine(loopdesk_home)
    with session_for(engine) as session:
        practice = add_practice(session)
        for value in (9000, 7000):
            add_task(session, practice, case_value=value)
        user = add_worker(session, practices=["smile-ny"])
        slot = _slot(session, user)
        held_at_wait: list[int] = []
        real = slot.refreshing

        class Watched:
            def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
                held_at_wait.append(engine.pool.checkedout())  # type: ignore[attr-defined]
                return real.acquire(blocking, timeout)

            def release(self) -> None:
                real.release()

            def locked(self) -> bool:
                return real.locked()

        monkeypatch.setattr(slot, "refreshing", Watched())
        assert claim_next(session=session, user=user, now=NOW) is not None
        assert held_at_wait == [0]


def test_a_claim_that_read_the_clock_just_before_the_ranking_pops_it(
    loopdesk_home: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Claims side by side read the clock as they start: one that waited for a ranking made
    at a slightly later `now` pops it rather than ranking again; its lease still checks due
    times at its own `now`."""
    from datetime import timedelta

    monkeypatch.setattr(window, "WINDOW_LOW", 0)  # (no ranking ahead in this test)
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        due = NOW - timedelta(hours=1)
        best = add_task(session, practice, case_value=9000, due_at=due)
        due_later = add_task(session, practice, case_value=8000,
                             due_at=NOW + window.WINDOW_SKEW / 2)
        third = add_task(session, practice, case_value=7000, due_at=due)
        fourth = add_task(session, practice, case_value=6000, due_at=due)
        user = add_worker(session, practices=["smile-ny"])
        ranked_at = NOW + window.WINDOW_SKEW
        first = claim_next(session=session, user=user, now=ranked_at)
        assert first is not None and first.task_id == best.task_id
        slot = _slot(session, user)
        earlier = claim_next(session=session, user=user, now=NOW)
        # Off the same window (no second ranking), passing over the task not due at NOW.
        assert slot.refreshes == 1
        assert earlier is not None and earlier.task_id == third.task_id
        assert slot.window is not None
        assert [s.row.task_id for s in slot.window.entries] == [fourth.task_id]
        too_early = claim_next(session=session, user=user,
                               now=NOW - timedelta(milliseconds=1))
        assert slot.refreshes == 2  # beyond the skew: a clock going back ranks again
        assert too_early is not None and too_early.task_id == fourth.task_id
        assert due_later.task_id not in {first.task_id, earlier.task_id, too_early.task_id}


def test_a_claim_waiting_for_a_ranking_pops_a_window_installed_meanwhile(
    loopdesk_home: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A claim that found the window stale waits for the thread ranking it; once that window
    is installed the claim pops it, even if the ranking lock is held again at once (a claim
    of the new window started a ranking ahead of need). It used to queue for the lock and
    wait for that second ranking too: under 16 claimers at 1 M tasks the first claims of a
    run waited 450-570 ms for a window that had been ready after ~80 ms."""
    monkeypatch.setattr(window, "WINDOW_LOW", 0)  # (no ranking ahead of its own here)
    engine = sqlite_engine(loopdesk_home)
    with session_for(engine) as session:
        practice = add_practice(session)
        best = add_task(session, practice, case_value=9000)
        add_task(session, practice, case_value=7000)
        user = add_worker(session, practices=["smile-ny"])
        slot = _slot(session, user)
        # Another thread ranks this (cold) scope: it holds the ranking lock.
        assert slot.refreshing.acquire(blocking=False)
        claimed: list[Any] = []
        done = threading.Event()

        def claimer() -> None:
            with new_session(engine) as mine:
                claimed.append(claim_next(session=mine, user=user, now=NOW))
            done.set()

        worker = threading.Thread(target=claimer)
        worker.start()
        try:
            # That ranking installs its window, and the lock stays held (a ranking ahead).
            window._refresh(session, slot, scope=user.work_scope,
                            escalated=user.sees_escalated, now=NOW)
            session.rollback()
            assert done.wait(HANG), "the claim waited for the ranking lock"
            assert slot.refreshing.locked()  # (popped while the lock was still held)
        finally:
            window._release_refreshing(slot)
            worker.join(HANG)
        assert [c.task_id for c in claimed] == [best.task_id]
        assert slot.refreshes == 1


def test_only_the_claim_that_ranks_sweeps_lapsed_leases_first(
    loopdesk_home: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Claims that find the window stale while another claim ranks it wait for that ranking
    without reading for lapsed leases themselves: under 16 claimers each such read (and its
    round trips) came before the wait, and the claim ranking waited for the GIL behind them."""
    from console.work import claims

    monkeypatch.setattr(window, "WINDOW_LOW", 0)  # (no ranking ahead in this test)
    engine = sqlite_engine(loopdesk_home)
    with session_for(engine) as session:
        practice = add_practice(session)
        tasks = [add_task(session, practice, case_value=9000 - 100 * i) for i in range(3)]
        user = add_worker(session, practices=["smile-ny"])
    sweeps: list[str] = []
    sweep = claims._sweep_lapsed

    def counted(session: Any, now: Any) -> None:
        sweeps.append(threading.current_thread().name)
        sweep(session, now)

    monkeypatch.setattr(claims, "_sweep_lapsed", counted)
    ranking = window._rank_gated
    ranking_entered, release = threading.Event(), threading.Event()

    def held_ranking(*args: Any, **kwargs: Any) -> Any:
        ranking_entered.set()
        assert release.wait(HANG)
        return ranking(*args, **kwargs)

    monkeypatch.setattr(window, "_rank_gated", held_ranking)
    hold = window._hold_refreshing
    second_waits = threading.Event()

    def watched_hold(slot: Any, seen: Any) -> bool:
        if threading.current_thread().name == "second":
            second_waits.set()
        return hold(slot, seen)

    monkeypatch.setattr(window, "_hold_refreshing", watched_hold)
    claimed: dict[str, Any] = {}

    def claim() -> None:
        with new_session(engine) as mine:
            claimed[threading.current_thread().name] = claim_next(session=mine, user=user,
                                                                  now=NOW)

    first = threading.Thread(target=claim, name="first")
    second = threading.Thread(target=claim, name="second")
    first.start()
    try:
        assert ranking_entered.wait(HANG)
        second.start()
        assert second_waits.wait(HANG)  # (it found no window and waits for the ranking)
    finally:
        release.set()
        first.join(HANG)
        second.join(HANG)
    assert sweeps == ["first"]
    assert {claimed["first"].task_id, claimed["second"].task_id} == {tasks[0].task_id,
                                                                     tasks[1].task_id}

"""The per-process claim window: shared within its TTL, ranked again on writes, TTL, a clock
going back; never a duplicate claim; the gate re-checked at claim time."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from console.identity.access import CurrentUser, current_user
from console.models.identity import Role
from console.models.practice import PracticeSettings
from console.models.work import Task, Touch
from console.platform.db import get_engine, init_db, keeping_rankings, new_session
from console.work import window
from console.work.claims import claim_next
from tests.factories import (
    NOW,
    add_practice,
    add_task,
    add_user,
    add_worker,
    bulk_tasks,
    session_for,
    sqlite_engine,
)

SOON = window.WINDOW_TTL / 4  # before a refill ahead of need (at half the TTL)
LATER = window.WINDOW_TTL + timedelta(milliseconds=1)


@pytest.fixture(autouse=True)
def _no_windows(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # These tiny queues would always be "running low": no ranking ahead of need unless a
    # test asks for it.
    monkeypatch.setattr(window, "WINDOW_LOW", 0)
    window.forget_windows()
    yield
    window.forget_windows()


def _tasks(session: Session, practice: PracticeSettings, values: list[float]) -> list[Task]:
    """One task per value (a higher case value ranks first), each for another person."""
    return [add_task(session, practice, case_value=value) for value in values]


def _rankings(session: Session, user: CurrentUser) -> int:
    key = window.scope_key(user.work_scope, user.sees_escalated)
    return window.slot_for(session, key).refreshes


def _claimed_id(session: Session, user: CurrentUser, when: object) -> int:
    task = claim_next(session=session, user=user, now=when)  # type: ignore[arg-type]
    assert task is not None
    return task.task_id or 0


def _quietly_add_task(session: Session, practice: PracticeSettings, value: float) -> Task:
    """A task written as another process would write it: this process's windows do not
    hear of it (no write-generation bump)."""
    with keeping_rankings():
        return add_task(session, practice, case_value=value)


def test_claimers_of_one_scope_share_one_ranking(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        best, second, third = _tasks(session, practice, [9000, 7000, 5000])
        first_user = add_worker(session, practices=["smile-ny"])
        other_user = add_worker(session, practices=["smile-ny"])
        manager = add_worker(session, role=Role.manager)
        assert _claimed_id(session, first_user, NOW) == best.task_id
        assert _claimed_id(session, other_user, NOW + SOON) == second.task_id
        assert _rankings(session, first_user) == 1  # the second claim popped the same list
        # Another scope (agency-wide) has a window of its own.
        assert _claimed_id(session, manager, NOW + SOON) == third.task_id
        assert _rankings(session, manager) == 1


def test_a_write_of_this_process_ranks_again(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        best, _second = _tasks(session, practice, [9000, 7000])
        user = add_worker(session, practices=["smile-ny"])
        assert _claimed_id(session, user, NOW) == best.task_id
        newer = add_task(session, practice, case_value=20000)  # an ordinary (bumping) write
        assert _claimed_id(session, user, NOW) == newer.task_id
        assert _rankings(session, user) == 2


def test_a_window_older_than_its_ttl_ranks_again(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        best, second, _third = _tasks(session, practice, [9000, 7000, 5000])
        user = add_worker(session, practices=["smile-ny"])
        assert _claimed_id(session, user, NOW) == best.task_id
        newer = _quietly_add_task(session, practice, 20000)
        # Within the TTL the claim may lag another process's write ...
        assert _claimed_id(session, user, NOW + SOON) == second.task_id
        # ... by at most the TTL.
        assert _claimed_id(session, user, NOW + LATER) == newer.task_id
        assert _rankings(session, user) == 2


def test_a_clock_going_back_ranks_again(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        best, _second = _tasks(session, practice, [9000, 7000])
        user = add_worker(session, practices=["smile-ny"])
        assert _claimed_id(session, user, NOW) == best.task_id
        newer = _quietly_add_task(session, practice, 20000)
        assert _claimed_id(session, user, NOW - timedelta(seconds=1)) == newer.task_id
        assert _rankings(session, user) == 2


def test_the_gate_is_checked_again_for_the_popped_candidate(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        best, called, third = _tasks(session, practice, [9000, 7000, 5000])
        user = add_worker(session, practices=["smile-ny"])
        assert _claimed_id(session, user, NOW) == best.task_id
        # A colleague in another process just called the second task's person.
        with keeping_rankings():
            session.add(Touch(practice_slug="smile-ny", subject_type=called.subject_type,
                              subject_id=called.subject_id, channel="call", minutes=2.0,
                              disposition="no_answer", started_at=NOW))
            session.commit()
        assert _claimed_id(session, user, NOW + SOON) == third.task_id
        assert _rankings(session, user) == 1  # the window was reused: the re-check refused
        stored = session.get(Task, called.task_id, populate_existing=True)
        assert stored is not None and stored.status == "open"


def _claim_until_empty(engine: Engine, user_id: int, out: list[int],
                       ready: threading.Barrier) -> None:
    with new_session(engine) as session:
        user = current_user(session=session, user_id=user_id)
        assert user is not None
        session.rollback()
        ready.wait()
        while (task := claim_next(session=session, user=user, now=NOW)) is not None:
            out.append(task.task_id or 0)


def test_stale_windows_of_two_processes_never_claim_a_task_twice(loopdesk_home: Path) -> None:
    engine = sqlite_engine(loopdesk_home)
    # A second engine on the same file stands for a second app process: its own windows.
    other = get_engine(f"sqlite:///{loopdesk_home}/./loopdesk.db")
    init_db(other)
    assert other is not engine
    with session_for(engine) as session:
        practice = add_practice(session)
        task_ids = bulk_tasks(session, practice, 160)
        users = [add_user(session, role=Role.manager).user_id or 0 for _ in range(8)]
    # Both processes rank before anyone claims, so each window goes stale as the other claims.
    for store in (engine, other):
        with new_session(store) as session:
            user = current_user(session=session, user_id=users[0])
            assert user is not None
            claimed_first = claim_next(session=session, user=user, now=NOW)
            assert claimed_first is not None
    results: list[list[int]] = [[] for _ in users]
    ready = threading.Barrier(len(users))
    workers = [threading.Thread(target=_claim_until_empty,
                                args=(engine if i % 2 else other, uid, results[i], ready))
               for i, uid in enumerate(users)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    claimed = [task_id for chunk in results for task_id in chunk]
    assert Counter(claimed).most_common(1)[0][1] == 1
    assert len(claimed) == len(task_ids) - 2
    with new_session(engine) as session:
        user = current_user(session=session, user_id=users[0])
        assert user is not None
        assert _rankings(session, user) < len(claimed) // 4  # the window was shared


def test_a_window_running_low_is_ranked_again_ahead_of_need(
    loopdesk_home: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        best, _second, _third = _tasks(session, practice, [9000, 7000, 5000])
        user = add_worker(session, practices=["smile-ny"])
        monkeypatch.setattr(window, "WINDOW_LOW", 2)
        assert _claimed_id(session, user, NOW) == best.task_id
        assert _rankings(session, user) == 1  # two candidates left: not yet low
        newer = _quietly_add_task(session, practice, 20000)
        assert _claimed_id(session, user, NOW) != newer.task_id  # popped off the window ...
        assert _rankings(session, user) == 2  # ... which, one left, was ranked again after it
        assert _claimed_id(session, user, NOW) == newer.task_id


def test_a_candidate_popped_while_ranking_stays_out_of_the_new_window(
    loopdesk_home: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        best, second, third = _tasks(session, practice, [9000, 7000, 5000])
        user = add_worker(session, practices=["smile-ny"])
        assert _claimed_id(session, user, NOW) == best.task_id
        slot = window.slot_for(session, window.scope_key(user.work_scope, user.sees_escalated))
        ranking = window._rank_gated
        popped: list[int] = []

        def rank_while_another_claimer_pops(*args: object, **kwargs: object) -> object:
            result = ranking(*args, **kwargs)  # type: ignore[arg-type]
            # Another thread pops (and leases) the old window's best meanwhile.
            with slot.lock:
                assert slot.window is not None
                popped.extend(s.row.task_id for s in window._pop(slot, slot.window, 1))
            return result

        monkeypatch.setattr(window, "_rank_gated", rank_while_another_claimer_pops)
        window._refresh(session, slot, scope=user.work_scope, escalated=False, now=NOW)
        assert popped == [second.task_id]
        assert slot.window is not None
        assert [s.row.task_id for s in slot.window.entries] == [third.task_id]

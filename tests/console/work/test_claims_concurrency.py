"""Many concurrent claimers never receive the same task (SQLite threads, PostgreSQL processes)."""

from __future__ import annotations

import multiprocessing
import sys
import threading
import types
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from console.identity.access import current_user
from console.models.identity import Role, User
from console.platform.db import get_engine, init_db, new_session
from console.work.claims import claim_next
from tests.factories import NOW, add_practice, add_user, bulk_tasks, session_for, sqlite_engine
from tests.postgres import fresh_database


def _claim_until_empty(url: str, user_id: int, out: list[int]) -> None:
    with new_session(get_engine(url)) as session:
        user = current_user(session=session, user_id=user_id)
        assert user is not None
        while (task := claim_next(session=session, user=user, now=NOW)) is not None:
            out.append(task.task_id or 0)


def _threads(url: str, user_ids: list[int]) -> list[int]:
    results: list[list[int]] = [[] for _ in user_ids]
    workers = [threading.Thread(target=_claim_until_empty, args=(url, uid, results[i]))
               for i, uid in enumerate(user_ids)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return [task_id for chunk in results for task_id in chunk]


def test_sixteen_threads_on_sqlite_claim_each_task_once(loopdesk_home: Path) -> None:
    engine = sqlite_engine(loopdesk_home)
    with session_for(engine) as session:
        practice = add_practice(session)
        task_ids = bulk_tasks(session, practice, 240)
        users = [add_user(session, role=Role.manager).user_id or 0 for _ in range(16)]
    claimed = _threads(str(engine.url), users)
    assert Counter(claimed).most_common(1)[0][1] == 1
    assert sorted(claimed) == sorted(task_ids)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards (skips locally if PG is down)."""
    with fresh_database("loopdesk_claims") as url:
        yield url


def _process(url: str, user_ids: list[int], queue: multiprocessing.Queue) -> None:
    queue.put(_threads(url, user_ids))


@pytest.mark.postgres
def test_four_processes_of_four_threads_on_postgres_claim_each_task_once(
    loopdesk_home: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A spawned child re-runs the parent's `__main__` file first; after an AppTest earlier in
    # this pytest process that is the Streamlit script, which crashed the children (the test
    # then timed out on an empty queue). The children need only this module, by its name.
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    engine = get_engine(pg_url)
    init_db(engine)
    with new_session(engine) as session:
        practice = add_practice(session)
        task_ids = bulk_tasks(session, practice, 240)
        users = [add_user(session, role=Role.manager).user_id or 0 for _ in range(16)]
        assert len(session.execute(select(col(User.user_id))).all()) == 16
    engine.dispose()
    claimed = _claim_in_four_processes(pg_url, users)
    get_engine(pg_url).dispose()
    assert Counter(claimed).most_common(1)[0][1] == 1
    assert sorted(claimed) == sorted(task_ids)


def _claim_in_four_processes(url: str, users: list[int]) -> list[int]:
    """Four spawned processes of four claimer threads each (`_process`); every task id claimed."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [context.Process(target=_process, args=(url, users[i * 4:(i + 1) * 4], queue))
                 for i in range(4)]
    for process in processes:
        process.start()
    claimed = [task_id for _ in processes for task_id in queue.get(timeout=120)]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    return claimed


def test_four_processes_of_four_threads_on_sqlite_claim_each_task_once(
    loopdesk_home: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Processes publish and adopt each other's claim windows (console/work/window.py) and
    rank ahead under a lock on a file beside the database: still one holder a task."""
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    engine = sqlite_engine(loopdesk_home)
    with session_for(engine) as session:
        practice = add_practice(session)
        task_ids = bulk_tasks(session, practice, 240)
        users = [add_user(session, role=Role.manager).user_id or 0 for _ in range(16)]
    url = str(engine.url)
    engine.dispose()
    claimed = _claim_in_four_processes(url, users)
    assert Counter(claimed).most_common(1)[0][1] == 1
    assert sorted(claimed) == sorted(task_ids)

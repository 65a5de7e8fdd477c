"""Eight coordinators working one shift at once: no error, no task claimed twice, chain intact.

Each worker does what a browser session does on every press, through the same view functions
the pages call: resolve the session (the router's rerun), Next task, open the card (audited),
Log outcome. 8 workers x 50 rounds on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlmodel import select

from console.identity.audit import verify_chain
from console.identity.auth import start_session
from console.models.identity import Role, User, UserPractice
from console.models.practice import PracticeSettings
from console.platform.db import get_engine, init_db, new_session
from console.views.identity import who_is
from console.views.work import log_outcome, take_next, task_card
from loopdesk_core.clock import now
from tests.factories import bulk_tasks
from tests.postgres import fresh_database
from tests.worlds import build_generated_world, point_at_home

# Thursday 13:00 in New York: every generated practice is inside calling hours.
SHIFT_NOW = "2026-11-26T18:00:00+00:00"
WORKERS = 8
ROUNDS = 50
# An outcome that ends a task and touches no other task (a decline would cancel the
# patient's other asks, which another coordinator may hold: a correct refusal, not a race).
ENDING = {"patient": "wrong_number", "lead": "wrong_number"}


@dataclass
class Tally:
    """What one worker saw."""

    claimed: list[int] = field(default_factory=list)
    logged: int = 0
    errors: list[str] = field(default_factory=list)


def _coordinators(count: int) -> list[str]:
    """`count` coordinators on every practice, each with a live session token."""
    engine = get_engine()
    init_db(engine)
    moment = now()
    tokens = []
    with new_session(engine) as session:
        practices = list(session.exec(select(PracticeSettings)))
        slugs = [p.practice_slug for p in practices]
        # More callable work than one shift takes: the generated world's own tasks plus
        # ask tasks for patients outside the marts (their card reads "name not on file").
        for practice in practices:
            bulk_tasks(session, practice, WORKERS * ROUNDS // len(practices) + 20, now=moment)
        for index in range(count):
            user = User(email=f"shift{index}@agency.test", role=Role.coordinator.value,
                        password_hash="not-a-real-hash", active=True, created_at=moment)
            session.add(user)
            session.flush()
            for slug in slugs:
                session.add(UserPractice(user_id=user.user_id or 0, practice_slug=slug))
            session.commit()
            tokens.append(start_session(session=session, user=user, now=moment))
    return tokens


def _work(token: str, start: threading.Barrier, tally: Tally) -> None:
    start.wait()
    for _ in range(ROUNDS):
        try:
            moment = now()
            user = who_is(token=token, now=moment)
            assert user is not None, "the session stopped resolving"
            with new_session(get_engine()) as session:
                task = take_next(session=session, user=user, now=moment)
                if task is None:
                    continue
                tally.claimed.append(task.task_id or 0)
                card = task_card(session=session, user=user, task_id=task.task_id or 0,
                                 now=moment)
                log_outcome(session=session, user=user, task_id=card.task_id,
                            claim_version=card.claim_version,
                            disposition=ENDING[card.subject_type], minutes=3.0, notes="",
                            callback_at=None, lead=None, now=moment)
                tally.logged += 1
        except Exception as error:  # the test counts every failure
            tally.errors.append(f"{type(error).__name__}: {error}")


def _shift() -> list[Tally]:
    tokens = _coordinators(WORKERS)
    start = threading.Barrier(WORKERS)
    tallies = [Tally() for _ in tokens]
    workers = [threading.Thread(target=_work, args=(token, start, tally))
               for token, tally in zip(tokens, tallies, strict=True)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return tallies


def _assert_clean_shift(tallies: list[Tally]) -> None:
    errors = [error for tally in tallies for error in tally.errors]
    assert errors == []
    claimed = [task_id for tally in tallies for task_id in tally.claimed]
    assert len(claimed) == WORKERS * ROUNDS  # the world has more work than one shift
    assert Counter(claimed).most_common(1)[0][1] == 1
    assert sum(tally.logged for tally in tallies) == len(claimed)
    with new_session(get_engine()) as session:
        assert verify_chain(session=session) is None


@pytest.fixture
def sqlite_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    point_at_home(monkeypatch, tmp_path / "home", SHIFT_NOW)
    build_generated_world(tmp_path / "drop", practices=3, seed=11, months=6, now=now())
    yield


@pytest.fixture
def postgres_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with fresh_database("loopdesk_shift") as url:
        point_at_home(monkeypatch, tmp_path / "home", SHIFT_NOW)
        monkeypatch.setenv("LOOPDESK_DATABASE_URL", url)
        build_generated_world(tmp_path / "drop", practices=3, seed=11, months=6, now=now())
        yield
        get_engine().dispose()


@pytest.mark.slow
def test_eight_coordinators_work_a_shift_on_sqlite(sqlite_world: None) -> None:
    _assert_clean_shift(_shift())


@pytest.mark.slow
@pytest.mark.postgres
def test_eight_coordinators_work_a_shift_on_postgres(postgres_world: None) -> None:
    _assert_clean_shift(_shift())

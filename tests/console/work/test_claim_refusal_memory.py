"""A claim window remembers the people the gate refused by a fatigue cap (window._rank_gated)
and does not gate them again until their practice's local day ends: the claims are exactly
those of gating every candidate at every ranking, over days of claims, touches, a consent
withdrawal and cap changes."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from console.contact.gate import CAP_REFUSALS
from console.models.practice import PracticeSettings
from console.models.work import ConsentEvent, Touch
from console.work import ranking, window
from console.work.claims import claim_next
from tests.factories import NOW, add_practice, add_task, add_worker, session_for, sqlite_engine

KINDS = ("ask", "close_loop", "review_request", "contact_lead")


@pytest.fixture(autouse=True)
def _no_windows() -> Iterator[None]:
    window.forget_windows()
    yield
    window.forget_windows()


def _touch(slug: str, subject_type: str, subject_id: str, at: Any, minutes: float) -> Touch:
    return Touch(practice_slug=slug, subject_type=subject_type, subject_id=subject_id,
                 channel="call", minutes=minutes, disposition="no_answer", started_at=at)


def _queue(engine: Engine, seed: int) -> list[int]:
    """A queue drawn from `seed` (equal seeds: equal rows), then three days of claims — one
    to four at a moment, every claimed person called (a touch) — with a practice's caps
    lowered and raised again and a consent withdrawn on the way; the claimed ids in order."""
    rng = random.Random(seed)
    claimed: list[int] = []
    with session_for(engine) as session:
        practices = [add_practice(session, "smile-ny", timezone="America/New_York",
                                  contracted_hours=2.0),
                     add_practice(session, "peak-derm", timezone="America/Denver",
                                  contracted_hours=40.0),
                     add_practice(session, "lake-ortho", timezone="Pacific/Honolulu",
                                  contracted_hours=10.0)]
        people: list[tuple[str, str, str]] = []
        for _ in range(420):
            practice = rng.choice(practices)
            # 40 people a practice, most with several tasks (ids repeat across practices).
            task = add_task(session, practice, kind=rng.choice(KINDS),
                            subject_id=f"p{rng.randrange(40)}",
                            case_value=rng.uniform(500, 15000),
                            decay_from=NOW - timedelta(hours=rng.uniform(0, 240)),
                            sla_deadline=NOW + timedelta(hours=rng.uniform(-48, 200)))
            people.append((task.practice_slug, task.subject_type, task.subject_id))
        for slug, subject_type, subject_id in people[::4]:  # called earlier this week
            session.add(_touch(slug, subject_type, subject_id,
                               NOW - timedelta(hours=rng.uniform(1, 100)), 3.0))
        session.commit()
        user = add_worker(session, practices=[p.practice_slug for p in practices])
        at = NOW
        for step in range(150):
            batch = []
            for _ in range(rng.choice((1, 1, 1, 2, 4))):  # claims at the same moment
                task = claim_next(session=session, user=user, now=at)
                claimed.append(task.task_id if task is not None else 0)
                if task is not None:
                    batch.append(task)
            for task in batch:
                session.add(_touch(task.practice_slug, task.subject_type, task.subject_id, at,
                                   rng.uniform(1, 9)))
            if step in (2, 6):  # caps lowered, then raised: refusals that lift
                settings = session.get(PracticeSettings, "peak-derm")
                assert settings is not None
                settings.max_touches_per_day = 0 if step == 2 else 1
                settings.max_touches_per_week = 1 if step == 2 else 3
            if step == 50:  # a withdrawn consent: a refusal of another kind
                slug, subject_type, subject_id = people[1]
                session.add(ConsentEvent(practice_slug=slug, subject_type=subject_type,
                                         subject_id=subject_id, channel="call",
                                         granted=False, at=at, source="test"))
            session.commit()
            # Minutes to hours apart: windows never survive, local days end on the way.
            at += timedelta(minutes=rng.choice((0.0, 7.0, 40.0, 150.0)))
    return claimed


def test_claims_remembering_cap_refusals_are_those_of_gating_every_candidate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    gated = {"people": 0, "remembered": 0}
    gate_all, remembering = ranking.gate_all, window._gate_remembering

    def counted_gate(session: Any, scored: Any, *args: Any) -> None:
        gated["people"] += len(scored)
        gate_all(session, scored, *args)

    def counted_remembering(session: Any, fresh: Any, *args: Any) -> None:
        remembering(session, fresh, *args)
        gated["remembered"] += sum(1 for s in fresh if s.gate is window.REMEMBERED)

    monkeypatch.setattr(window, "gate_all", counted_gate)
    for seed in (1, 2):
        window.forget_windows()
        monkeypatch.setattr(window, "_gate_remembering", counted_remembering)
        before = dict(gated)
        remembered = _queue(sqlite_engine(_home(tmp_path, f"memory{seed}")), seed)
        with_memory = gated["people"] - before["people"]
        window.forget_windows()

        def gate_every_candidate(session: Any, fresh: Any, practices: Any, now: Any,
                                 memory: Any) -> None:
            counted_gate(session, fresh, practices, now)

        monkeypatch.setattr(window, "_gate_remembering", gate_every_candidate)
        before = dict(gated)
        full = _queue(sqlite_engine(_home(tmp_path, f"full{seed}")), seed)
        assert remembered == full
        assert sum(1 for task_id in full if task_id) > 100
        # The memory served (people not gated again), and the run gated fewer people.
        assert gated["people"] - before["people"] > with_memory
    assert gated["remembered"] > 100


def test_only_cap_refusals_are_remembered_and_a_new_local_day_forgets_them(
    tmp_path: Path,
) -> None:
    engine = sqlite_engine(_home(tmp_path, "day"))
    with session_for(engine) as session:
        practice = add_practice(session, "smile-ny", timezone="America/New_York")
        called = add_task(session, practice, subject_id="called", case_value=9000.0)
        add_task(session, practice, subject_id="called", kind="close_loop", case_value=8000.0)
        revoked = add_task(session, practice, subject_id="revoked", case_value=7000.0)
        add_task(session, practice, subject_id="fresh", case_value=100.0)
        session.add(_touch("smile-ny", called.subject_type, "called",
                           NOW - timedelta(hours=1), 5.0))
        session.add(ConsentEvent(practice_slug="smile-ny", subject_type=revoked.subject_type,
                                 subject_id="revoked", channel="call", granted=False,
                                 at=NOW - timedelta(hours=1), source="test"))
        session.commit()
        memory: window.Refusals = {}
        scope = add_worker(session, practices=["smile-ny"]).work_scope
        passing, _ = window._rank_gated(session, scope=scope, escalated=False, now=NOW,
                                        skip=set(), depth=64, memory=memory)
        assert [s.row.subject_id for s in passing] == ["fresh"]
        assert set(memory) == {("smile-ny", called.subject_type, "called")}
        # Later the same local day: still refused, without a gate read for that person.
        later = NOW + timedelta(hours=3)
        scored, practices = ranking.ranked(session, scope=scope, now=later, callable_only=True,
                                           escalated=False, wanted=64)
        window._gate_remembering(session, scored, practices, later, memory)
        verdicts = {s.row.subject_id: s.gate for s in scored}
        assert verdicts["called"] is window.REMEMBERED
        assert verdicts["revoked"].reason not in CAP_REFUSALS and not verdicts["revoked"].ok
        # The next local day (New York): gated again, and passing.
        tomorrow = NOW + timedelta(days=1)
        scored, practices = ranking.ranked(session, scope=scope, now=tomorrow,
                                           callable_only=True, escalated=False, wanted=64)
        window._gate_remembering(session, scored, practices, tomorrow, memory)
        assert {s.row.subject_id for s in scored if s.gate.ok} == {"called", "fresh"}
        assert memory == {}


def _home(root: Path, name: str) -> Path:
    home = root / name
    home.mkdir()
    return home

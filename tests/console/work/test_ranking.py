"""The bounded top-K window ranks exactly like scoring every open task (small K forces widening)."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from console.models.identity import Role
from console.models.work import Task, Touch
from console.scoring.priority import base_priority, urgency
from console.work import ranking
from console.work.claims import list_queue
from tests.factories import NOW, add_practice, add_task, add_worker, session_for, sqlite_engine

KINDS = ("ask", "follow_up", "contact_lead", "close_loop", "review_request")


def _seed(session: Session, seed: int) -> None:
    """Three practices with different hours logged, 60 tasks spread over kinds and bands."""
    rng = random.Random(seed)
    practices = [add_practice(session, slug, contracted_hours=hours)
                 for slug, hours in (("a", 10.0), ("b", 40.0), ("c", 2.0))]
    session.add(Touch(practice_slug="c", subject_type="patient", subject_id="x", minutes=300,
                      started_at=NOW - timedelta(hours=2), disposition="no_answer"))
    session.commit()
    for _ in range(60):
        add_task(session, rng.choice(practices), kind=rng.choice(KINDS),
                 case_value=rng.lognormvariate(8.5, 0.8),
                 decay_from=NOW - timedelta(hours=rng.uniform(1, 900)),
                 sla_deadline=NOW + timedelta(hours=rng.gauss(72, 60)),
                 satisfaction=rng.choice([None, 6.0, 9.0]))


def _brute_force(session: Session) -> list[int]:
    """Every open task scored one by one, best first."""
    tasks = session.exec(select(Task).where(Task.status == "open")).all()
    facts = ranking.practice_facts(session, {t.practice_slug for t in tasks}, NOW)
    standing = ranking.shares(facts, NOW)

    def priority(task: Task) -> float:
        return (base_priority(kind=task.kind, rank_key=task.rank_key, now=NOW)
                * urgency(sla_deadline=task.sla_deadline, now=NOW)
                * standing[task.practice_slug].factor)

    ordered = sorted(tasks, key=lambda t: (-priority(t), t.sla_deadline, t.task_id))
    return [t.task_id or 0 for t in ordered]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_small_window_with_widening_matches_scoring_everything(
    loopdesk_home: Path, monkeypatch: pytest.MonkeyPatch, seed: int,
) -> None:
    # K starts at 1 and the merge keeps one spare row, so both bounds must trigger widening.
    monkeypatch.setattr(ranking, "TOP_K_START", 1)
    monkeypatch.setattr(ranking, "TOP_K_MAX", 256)
    monkeypatch.setattr(ranking, "WINDOW_SLACK", 1)
    with session_for(sqlite_engine(loopdesk_home)) as session:
        _seed(session, seed)
        manager = add_worker(session, role=Role.manager)
        expected = _brute_force(session)
        for wanted in (1, 5):
            shown = list_queue(session=session, user=manager, now=NOW, limit=wanted)
            assert [e.task_id for e in shown] == expected[:wanted]


def test_full_list_is_every_open_task_in_exact_order(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        _seed(session, 4)
        manager = add_worker(session, role=Role.manager)
        expected = _brute_force(session)
        shown = list_queue(session=session, user=manager, now=NOW, limit=100)
        assert [e.task_id for e in shown] == expected


def test_scoped_window_holds_only_the_users_practices(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        _seed(session, 5)
        coordinator = add_worker(session, practices=["a", "c"])
        shown = list_queue(session=session, user=coordinator, now=NOW, limit=100)
        everything = _brute_force(session)
        kept = set(session.exec(
            select(Task.task_id).where(col(Task.practice_slug).in_(["a", "c"]))
        ).all())
        assert [e.task_id for e in shown] == [t for t in everything if t in kept]


def test_fair_share_lift_beyond_a_one_row_window_is_found_by_widening(
    loopdesk_home: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ranking, "TOP_K_START", 1)
    monkeypatch.setattr(ranking, "WINDOW_SLACK", 0)
    with session_for(sqlite_engine(loopdesk_home)) as session:
        ahead = add_practice(session, "ahead", contracted_hours=2.0)
        behind = add_practice(session, "behind", contracted_hours=40.0)
        session.add(Touch(practice_slug="ahead", subject_type="patient", subject_id="x",
                          minutes=300, started_at=NOW - timedelta(hours=2)))
        session.commit()
        decay = NOW - timedelta(days=2)
        higher_key = add_task(session, ahead, case_value=6000, decay_from=decay)
        lifted = add_task(session, behind, case_value=5000, decay_from=decay)
        assert higher_key.rank_key > lifted.rank_key
        manager = add_worker(session, role=Role.manager)
        shown = list_queue(session=session, user=manager, now=NOW, limit=1)
        assert [e.task_id for e in shown] == [lifted.task_id]

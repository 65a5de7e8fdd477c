"""A lone claim ranks shallow (window._rank_head) and claims exactly what the full window
would have given: the same tasks, in the same order, over many rounds of claims on a queue
whose best candidates the gate often refuses."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from console.models.work import Touch
from console.work import window
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
    """A queue drawn from `seed` (the same rows in the same order for equal seeds), then
    rounds of claims — several at the same moment in some rounds — each claimed person
    called (a touch) after the round; the claimed task ids in order (0: nothing)."""
    rng = random.Random(seed)
    claimed: list[int] = []
    with session_for(engine) as session:
        # Fair share far apart (one practice far ahead of its hours, one far behind), so
        # the share reorders candidates the top-K statement ranked by base alone.
        practices = [add_practice(session, "smile-ny", timezone="America/New_York",
                                  contracted_hours=2.0),
                     add_practice(session, "peak-derm", timezone="America/Denver",
                                  contracted_hours=40.0),
                     add_practice(session, "lake-ortho", timezone="America/Chicago",
                                  contracted_hours=10.0)]
        for practice, minutes in zip(practices, (600.0, 0.0, 200.0), strict=True):
            session.add(_touch(practice.practice_slug, "patient", "earlier",
                               NOW - timedelta(days=2), minutes))
        people: list[tuple[str, str]] = []
        for _ in range(160):
            practice = rng.choice(practices)
            kind = rng.choice(KINDS)
            # Subject ids repeat across practices (and some people have two tasks).
            subject = f"p{rng.randrange(60)}"
            task = add_task(session, practice, kind=kind, subject_id=subject,
                            case_value=rng.uniform(500, 15000),
                            decay_from=NOW - timedelta(hours=rng.uniform(0, 240)),
                            sla_deadline=NOW + timedelta(hours=rng.uniform(-48, 200)))
            people.append((task.practice_slug, task.subject_type))
        # A third of the people were called earlier today: the gate refuses them.
        for slug, subject_type in people[::3]:
            session.add(_touch(slug, subject_type, f"p{rng.randrange(60)}",
                               NOW - timedelta(hours=1), 3.0))
        session.commit()
        user = add_worker(session, practices=[p.practice_slug for p in practices])
        at = NOW
        for _ in range(40):
            batch = []
            for _ in range(rng.choice((1, 1, 2, 3, 8))):  # claims at the same moment
                task = claim_next(session=session, user=user, now=at)
                claimed.append(task.task_id if task is not None else 0)
                if task is not None:
                    batch.append(task)
            for task in batch:
                session.add(_touch(task.practice_slug, task.subject_type, task.subject_id, at,
                                   rng.uniform(1, 9)))
            session.commit()
            at += timedelta(minutes=rng.choice((0.0, 0.5, 7.0)))
    return claimed


def test_a_lone_claim_claims_what_the_full_window_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    counts = {"heads": 0, "none": 0, "deeper": 0}
    rank_head, refresh = window._rank_head, window._refresh

    def counted_head(*args: Any, **kwargs: Any) -> Any:
        head = rank_head(*args, **kwargs)
        counts["heads" if head is not None else "none"] += 1
        return head

    def counted_refresh(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("now") is not None and not kwargs.get("lone", True) \
                and not kwargs.get("shared") and kwargs.get("depth") is None:
            counts["deeper"] += 1
        return refresh(*args, **kwargs)

    for seed in (1, 2, 3):
        window.forget_windows()
        monkeypatch.setattr(window, "_rank_head", counted_head)
        monkeypatch.setattr(window, "_refresh", counted_refresh)
        shallow = _queue(sqlite_engine(_home(tmp_path, f"head{seed}")), seed)
        # The full window only (as before the lone head): the head never passes.
        monkeypatch.setattr(window, "_rank_head", lambda *args, **kwargs: None)
        full = _queue(sqlite_engine(_home(tmp_path, f"full{seed}")), seed)
        assert shallow == full
        assert sum(1 for task_id in full if task_id) > 60
    # Every path was taken: heads that served, heads refused whole (full ranking), heads
    # that ran dry under claims of the same moment (full ranking at the window's moment).
    assert counts["heads"] > 0 and counts["none"] > 0 and counts["deeper"] > 0


def _home(root: Path, name: str) -> Path:
    home = root / name
    home.mkdir()
    return home

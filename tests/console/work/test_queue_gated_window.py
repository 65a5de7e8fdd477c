"""claim_next looks past a window of gated candidates (found by the simulator, issue 13).

People already called today stay at the top of the queue while their tasks breach; when more
of them than the ranking window holds sit there, claim_next used to report nothing callable
although a callable task was further down.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from console.models.identity import Role
from console.models.work import Touch
from console.work.claims import claim_next
from tests.factories import NOW, add_practice, add_task, add_worker, session_for, sqlite_engine


def test_claim_finds_the_callable_task_below_a_window_of_gated_ones(tmp_path: Path) -> None:
    engine = sqlite_engine(tmp_path)
    with session_for(engine) as session:
        practice = add_practice(session)
        for i in range(40):  # more valuable, but each person was called an hour ago
            task = add_task(session, practice, subject_id=f"called-{i}", case_value=50_000.0)
            session.add(Touch(task_id=task.task_id, practice_slug=practice.practice_slug,
                              subject_type="patient", subject_id=f"called-{i}",
                              patient_id=f"called-{i}", task_kind="ask", coordinator_id=None,
                              channel="call", disposition="no_answer", minutes=2.0,
                              started_at=NOW - timedelta(hours=1),
                              ended_at=NOW - timedelta(hours=1)))
        session.commit()
        callable_task = add_task(session, practice, subject_id="fresh", case_value=1_000.0)
        coordinator = add_worker(session, role=Role.coordinator,
                               practices=[practice.practice_slug])
        claimed = claim_next(session=session, user=coordinator, now=NOW)
        assert claimed is not None
        assert claimed.task_id == callable_task.task_id
        # Nothing else may be called now: the next claim finds nothing (and terminates).
        assert claim_next(session=session, user=coordinator, now=NOW) is None

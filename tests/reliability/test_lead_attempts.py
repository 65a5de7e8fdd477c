"""Finding 1: a rebuild must not cancel a referred friend's contact task after one no_answer.

Fails before the fix: `build` treated the no_answer touch as a contact, the candidate left and
the refresh closed the task `cancelled / reason_gone`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from console.models.practice import PracticeSettings
from console.models.work import Lead, Task, TaskStatus
from console.platform.db import get_engine, init_db, new_session
from console.work.leads import LeadInput, create_lead
from tests.factories import add_user
from tests.reliability.conftest import Runner
from tests.worlds import FIXED_NOW, build_generated_world

NOW = datetime.fromisoformat(FIXED_NOW)


def _cancel_others(keep: int | None = None) -> None:
    """Cancel every open task but `keep`, so `claim` can only hand that one out."""
    with new_session(get_engine()) as session:
        session.execute(update(Task).values(status=TaskStatus.cancelled, closed_at=NOW,
                                            close_reason="test_setup")
                        .where(col(Task.status).in_((TaskStatus.open, TaskStatus.claimed)))
                        .where(col(Task.task_id) != (keep or -1)))
        session.commit()


def _only_a_fresh_lead() -> tuple[int, str]:
    """A console lead with its contact_lead task, the only open task in the store."""
    _cancel_others()
    with new_session(get_engine()) as session:
        practice = session.exec(select(PracticeSettings)).first()
        assert practice is not None
        add_user(session, "coord@agency.test", practices=[practice.practice_slug])
        lead, task = create_lead(session=session, practice=practice, referrer_patient_id="P000001",
                                 lead=LeadInput(first_name="Robin", phone="(312) 555-0142"),
                                 source="coordinator", now=NOW - timedelta(hours=2))
        session.commit()
        assert task is not None and task.task_id is not None
        return task.task_id, lead.lead_id


def _task(task_id: int) -> Task:
    with new_session(get_engine()) as session:
        task = session.get(Task, task_id)
        assert task is not None
        return task


@pytest.fixture
def world(loopdesk_home: Path) -> Path:
    build_generated_world(loopdesk_home / "drop", practices=1, seed=3, months=2, now=NOW,
                          dirty_share=0.0)
    init_db(get_engine())
    return loopdesk_home


def test_no_answer_then_rebuild_keeps_the_lead_task_open(world: Path, cli: Runner) -> None:
    task_id, _ = _only_a_fresh_lead()
    claimed = json.loads(cli("claim", "--as", "coord@agency.test", "--json").out)
    assert claimed["task_id"] == task_id
    logged = cli("log", str(task_id), "--as", "coord@agency.test", "--disposition", "no_answer",
                 "--minutes", "2", "--json")
    assert logged.code == 0, logged.err
    assert cli("build", "--json").code == 0
    task = _task(task_id)
    assert (task.status, task.close_reason, task.attempt) == (TaskStatus.open, None, 2)


def test_four_unanswered_attempts_make_the_lead_unreachable_with_a_close_loop(
    world: Path, cli: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id, lead_id = _only_a_fresh_lead()
    now = NOW
    for attempt in range(1, 5):
        monkeypatch.setenv("LOOPDESK_NOW", now.isoformat())
        _cancel_others(keep=task_id)
        claimed = cli("claim", "--as", "coord@agency.test", "--json")
        assert json.loads(claimed.out)["task_id"] == task_id, (attempt, claimed)
        logged = cli("log", str(task_id), "--as", "coord@agency.test", "--disposition",
                     "voicemail" if attempt % 2 else "no_answer", "--minutes", "2", "--json")
        assert logged.code == 0, logged.err
        assert cli("build", "--json").code == 0
        task = _task(task_id)
        if attempt < 4:
            assert (task.status, task.attempt) == (TaskStatus.open, attempt + 1)
            now = max(now, task.due_at) + timedelta(minutes=5)
    assert (task.status, task.close_reason) == (TaskStatus.done, "no_answer")
    with new_session(get_engine()) as session:
        lead = session.exec(select(Lead).where(Lead.lead_id == lead_id)).one()
        assert lead.status == "unreachable"
        loop = session.exec(select(Task).where(Task.lead_id == lead_id)
                            .where(Task.kind == "close_loop")).one()
        assert loop.status in (TaskStatus.open, TaskStatus.claimed)

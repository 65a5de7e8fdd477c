"""Lock conflicts are retried as whole operations; a claim looks past a window the gate refuses."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from console.models.identity import Role
from console.models.work import Touch
from console.platform.db import StoreBusy, holds_writer, retrying
from console.work.claims import claim_next
from tests.factories import (
    NOW,
    add_practice,
    add_task,
    add_user,
    add_worker,
    session_for,
    sqlite_engine,
)


def _locked() -> OperationalError:
    return OperationalError("insert ...", {}, Exception("database is locked"))


def test_a_lock_conflict_runs_the_operation_again(loopdesk_home: Path) -> None:
    attempts: list[int] = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise _locked()
        return "done"

    with session_for(sqlite_engine(loopdesk_home)) as session:
        assert retrying(session, flaky) == "done"
    assert len(attempts) == 3


def test_a_store_that_stays_locked_is_a_user_message_not_a_lock_error(
    loopdesk_home: Path,
) -> None:
    def always() -> None:
        raise _locked()

    with session_for(sqlite_engine(loopdesk_home)) as session, \
            pytest.raises(StoreBusy, match="very busy") as raised:
        retrying(session, always)
    assert "locked" not in str(raised.value)


def test_other_database_errors_are_not_retried(loopdesk_home: Path) -> None:
    attempts: list[int] = []

    def broken() -> None:
        attempts.append(1)
        raise OperationalError("select", {}, Exception("no such table: tasks"))

    with session_for(sqlite_engine(loopdesk_home)) as session, pytest.raises(OperationalError):
        retrying(session, broken)
    assert len(attempts) == 1


def test_a_read_transaction_is_not_a_writer_until_it_writes(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        add_practice(session)
        session.exec(Touch.__table__.select())  # type: ignore[attr-defined, call-overload]
        assert not holds_writer(session)
        add_user(session)  # commits
        session.connection().exec_driver_sql("update users set email = email")
        assert holds_writer(session)


def test_claim_looks_past_a_window_of_people_already_reached_today(loopdesk_home: Path) -> None:
    """Forty better tasks whose people were called today; the forty-first is callable."""
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        user = add_worker(session, role=Role.manager)
        for index in range(40):
            task = add_task(session, practice, case_value=90_000.0 - index)
            session.add(Touch(practice_slug=practice.practice_slug, subject_type="patient",
                              subject_id=task.subject_id, patient_id=task.subject_id,
                              channel="call", disposition="no_answer", minutes=2.0,
                              started_at=NOW - timedelta(hours=1),
                              ended_at=NOW - timedelta(hours=1)))
        session.commit()
        expected = add_task(session, practice, case_value=100.0).task_id
        claimed = claim_next(session=session, user=user, now=NOW)
        assert claimed is not None and claimed.task_id == expected

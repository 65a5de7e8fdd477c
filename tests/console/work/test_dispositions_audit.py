"""Dispositions and consent changes are audited by the services, once, on a verifiable chain."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import Session, select

from console.contact.consent import grant_consent
from console.identity.access import CurrentUser, current_user
from console.identity.audit import Action, verify_chain
from console.models.identity import AuditEvent
from console.models.practice import PracticeSettings
from console.models.work import Task
from console.views.work import log_outcome
from console.work.claims import StaleClaim, claim_next
from console.work.dispositions import log_disposition
from tests.factories import NOW, add_practice, add_task, add_worker, session_for, sqlite_engine


@dataclass
class Desk:
    """A practice, a coordinator and one open ask about patient `p-9`."""

    session: Session
    practice: PracticeSettings
    user: CurrentUser
    task: Task


@pytest.fixture
def desk(loopdesk_home: Path) -> Iterator[Desk]:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        user = add_worker(session, practices=["smile-ny"])
        yield Desk(session, practice, user, add_task(session, practice, subject_id="p-9"))


def _events(session: Session, action: Action) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == str(action))).all())


def _log(desk: Desk, disposition: str, version: int | None = None) -> None:
    if version is None:
        claimed = claim_next(session=desk.session, user=desk.user, now=NOW)
        assert claimed is not None
        version = claimed.claim_version
    log_disposition(session=desk.session, user=desk.user, task_id=desk.task.task_id or 0,
                    claim_version=version, disposition=disposition, minutes=3, notes="",
                    callback_at=None, lead=None, now=NOW)


def test_a_disposition_leaves_exactly_one_audit_event(desk: Desk) -> None:
    _log(desk, "declined")
    [event] = _events(desk.session, Action.disposition)
    assert (event.actor, event.practice_slug, event.object_ref, event.outcome) == (
        f"user:{desk.user.user_id}", "smile-ny", f"task:{desk.task.task_id}", "declined")
    assert verify_chain(session=desk.session) is None


def test_the_console_path_does_not_audit_twice(desk: Desk) -> None:
    claimed = claim_next(session=desk.session, user=desk.user, now=NOW)
    assert claimed is not None
    user = current_user(session=desk.session, user_id=desk.user.user_id or 0)
    assert user is not None
    log_outcome(session=desk.session, user=user, task_id=claimed.task_id or 0,
                claim_version=claimed.claim_version, disposition="wrong_number", minutes=2,
                notes="", callback_at=None, lead=None, now=NOW)
    assert [e.outcome for e in _events(desk.session, Action.disposition)] == ["wrong_number"]
    assert verify_chain(session=desk.session) is None


def test_a_refused_disposition_is_not_audited(desk: Desk) -> None:
    claimed = claim_next(session=desk.session, user=desk.user, now=NOW)
    assert claimed is not None
    with pytest.raises(StaleClaim):
        _log(desk, "declined", version=claimed.claim_version + 1)
    desk.session.rollback()
    assert _events(desk.session, Action.disposition) == []


def test_an_opt_out_audits_the_disposition_and_the_consent_change(desk: Desk) -> None:
    _log(desk, "opted_out")
    assert [e.outcome for e in _events(desk.session, Action.disposition)] == ["opted_out"]
    [change] = _events(desk.session, Action.consent_change)
    assert (change.actor, change.object_ref, change.outcome) == (
        f"user:{desk.user.user_id}", "patient:p-9", "revoked:call,text,email")
    assert verify_chain(session=desk.session) is None


def test_a_consent_grant_is_audited_by_id_only(desk: Desk) -> None:
    grant_consent(session=desk.session, practice_slug="smile-ny", subject_type="patient",
                  subject_id="p-9", channel="email", source="form", now=NOW)
    desk.session.commit()
    [change] = _events(desk.session, Action.consent_change)
    assert (change.actor, change.object_ref, change.outcome) == (
        "system:form", "patient:p-9", "granted:email")
    assert verify_chain(session=desk.session) is None

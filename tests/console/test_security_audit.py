"""SECURITY 21: the audit log covers every required action, by id, and detects an edit.

One working session on a built world: a login, a claim, the card (a view of patient data),
a disposition, a consent change, a role change, a report view and a CSV export. Each must
leave an event; none may carry a name, phone or email; the chain verifies; editing any
event afterwards is found.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session, col, select

from console.contact.consent import revoke_consent
from console.identity import audit, users
from console.identity.access import current_user
from console.identity.auth import authenticate
from console.models.identity import AuditEvent, Role, User
from console.views import report, work
from console.work.claims import claim_next
from tests.console.access_helpers import PASSWORD, cheap_argon2, known_hash
from tests.console.test_security_isolation import (
    NOW,
    TwoPractices,
    _user,
    _world_env,
    session,
    world,
)

__all__ = ["_world_env", "cheap_argon2", "session", "world"]

REQUIRED = {"login", "claim", "view_patient", "disposition", "consent_change", "role_change",
            "view_report", "export"}


def _since(session: Session, seq: int) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).where(col(AuditEvent.seq) > seq)
                             .order_by(col(AuditEvent.seq))).all())


def test_a_working_session_is_fully_audited_by_id_and_an_edit_is_detected(
    world: TwoPractices, session: Session, cheap_argon2: None
) -> None:
    start = max([e.seq for e in _since(session, 0)], default=0)
    user, me = _user(session, Role.coordinator, [world.a])
    user.password_hash = known_hash()
    session.add(user)
    session.commit()
    authenticate(session=session, email=user.email, password=PASSWORD, client_key="10.0.0.9",
                 now=NOW)
    task = claim_next(session=session, user=me, now=NOW)
    assert task is not None
    work.task_card(session=session, user=me, task_id=task.task_id or 0, now=NOW)
    work.log_outcome(session=session, user=me, task_id=task.task_id or 0,
                     claim_version=task.claim_version, disposition="no_answer", minutes=2,
                     notes="", callback_at=None, lead=None, now=NOW)
    revoke_consent(session=session, practice_slug=task.practice_slug,
                   subject_type=task.subject_type, subject_id=task.subject_id, source="call",
                   now=NOW, channels=("text",), actor=me.actor)
    owner, _ = _user(session, Role.coordinator, [world.a])
    users.set_role(session=session, user_id=owner.user_id or 0, role=Role.client_owner,
                   actor=me.actor, now=NOW)
    as_owner = current_user(session=session, user_id=owner.user_id or 0)
    assert as_owner is not None
    shown = report.practice_report(session=session, user=as_owner, practice_slug=world.a,
                                   now=NOW)
    report.report_csv(session=session, user=as_owner, practice_slug=world.a, report=shown,
                      now=NOW)

    events = _since(session, start)
    assert {e.action for e in events} >= REQUIRED
    stored = session.exec(select(User)).all()
    emails = {u.email for u in stored}
    for event in events:
        fields = f"{event.actor} {event.object_ref or ''} {event.practice_slug or ''}"
        assert not any(email in fields for email in emails)
        assert event.actor.split(":")[0] in ("user", "anonymous", "report_link", "cli",
                                             "system", "automation")
    assert audit.verify_chain(session=session) is None

    edited = next(e for e in events if e.action == "disposition")
    session.execute(text("update audit_events set outcome = 'referred' where seq = :seq"),
                    {"seq": edited.seq})
    session.commit()
    assert audit.verify_chain(session=session) == edited.seq
    # Put it back so the shared world's chain stays whole for other tests.
    session.execute(text("update audit_events set outcome = :o where seq = :seq"),
                    {"o": "no_answer", "seq": edited.seq})
    session.commit()
    assert audit.verify_chain(session=session) is None

"""Consent changes: revocation on every channel (opt-out) cancels the person's open work at once.

Every change is also an audit event (SECURITY 21) in the caller's transaction: action
`consent_change`, object `{subject_type}:{subject_id}` (an id, never a name or address),
outcome `revoked:{channels}` or `granted:{channel}`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from console.identity import audit
from console.identity.audit import Action
from console.models.work import ConsentEvent, Disposition, Task, TaskStatus

CHANNELS = ("call", "text", "email")


def _audit(session: Session, actor: str, practice_slug: str, subject_type: str,
           subject_id: str, outcome: str, now: datetime) -> None:
    audit.record(session=session, actor=actor, action=Action.consent_change,
                 practice_slug=practice_slug, object_ref=f"{subject_type}:{subject_id}",
                 outcome=outcome, now=now)


def revoke_consent(
    *,
    session: Session,
    practice_slug: str,
    subject_type: str,
    subject_id: str,
    source: str,
    now: datetime,
    channels: tuple[str, ...] = CHANNELS,
    actor: str | None = None,
) -> int:
    """Record revocation on `channels` (audited) and cancel every open task about that person.

    Returns how many tasks were cancelled. The caller commits (so a disposition and its
    opt-out land in one transaction). `actor` defaults to `system:{source}`.
    """
    if subject_type not in ("patient", "lead"):
        raise ValueError(f"unknown subject type {subject_type!r}")
    _audit(session, actor or f"system:{source}", practice_slug, subject_type, subject_id,
           f"revoked:{','.join(channels)}", now)
    session.add_all(
        ConsentEvent(practice_slug=practice_slug, subject_type=subject_type,
                     subject_id=subject_id, channel=channel, granted=False, source=source,
                     at=now)
        for channel in channels
    )
    if "call" not in channels:
        return 0
    about_person = (col(Task.subject_type) == subject_type) & (col(Task.subject_id) == subject_id)
    if subject_type == "patient":
        about_person = about_person | (col(Task.patient_id) == subject_id)
    result = session.execute(
        update(Task)
        .execution_options(synchronize_session=False)
        .where(col(Task.practice_slug) == practice_slug)
        .where(about_person)
        .where(col(Task.status).in_((TaskStatus.open, TaskStatus.claimed)))
        .values(status=TaskStatus.cancelled, closed_at=now, close_reason=Disposition.opted_out,
                claimed_by=None, lease_expires_at=None)
    )
    session.flush()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def grant_consent(
    *, session: Session, practice_slug: str, subject_type: str, subject_id: str, channel: str,
    source: str, now: datetime, actor: str | None = None,
) -> None:
    """Record a (re-)grant of consent on one channel (audited); the caller commits."""
    _audit(session, actor or f"system:{source}", practice_slug, subject_type, subject_id,
           f"granted:{channel}", now)
    session.add(
        ConsentEvent(practice_slug=practice_slug, subject_type=subject_type,
                     subject_id=subject_id, channel=channel, granted=True, source=source, at=now)
    )
    session.flush()


def revoked_channels(
    *, session: Session, practice_slug: str, subject_type: str, subject_id: str
) -> set[str]:
    """Channels whose latest console consent event for this person is a revocation."""
    rows = session.exec(
        select(ConsentEvent)
        .where(ConsentEvent.practice_slug == practice_slug)
        .where(ConsentEvent.subject_type == subject_type)
        .where(ConsentEvent.subject_id == subject_id)
        .order_by(col(ConsentEvent.at), col(ConsentEvent.event_id))
    ).all()
    latest = {row.channel: row.granted for row in rows}
    return {channel for channel, granted in latest.items() if not granted}

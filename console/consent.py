"""Consent changes: revocation on every channel (opt-out) cancels the person's open work at once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col

from console.models.work import ConsentEvent, Task, TaskStatus

CHANNELS = ("call", "text", "email")


def revoke_consent(
    *,
    session: Session,
    practice_slug: str,
    subject_type: str,
    subject_id: str,
    source: str,
    now: datetime,
    channels: tuple[str, ...] = CHANNELS,
) -> int:
    """Record revocation on `channels` and cancel every open task about that person.

    Returns how many tasks were cancelled. The caller commits (so a disposition and its
    opt-out land in one transaction).
    """
    if subject_type not in ("patient", "lead"):
        raise ValueError(f"unknown subject type {subject_type!r}")
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
        .values(status=TaskStatus.cancelled, closed_at=now, close_reason="opted_out",
                claimed_by=None, lease_expires_at=None)
    )
    session.flush()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def grant_consent(
    *, session: Session, practice_slug: str, subject_type: str, subject_id: str, channel: str,
    source: str, now: datetime,
) -> None:
    """Record a (re-)grant of consent on one channel; the caller commits."""
    session.add(
        ConsentEvent(practice_slug=practice_slug, subject_type=subject_type,
                     subject_id=subject_id, channel=channel, granted=True, source=source, at=now)
    )
    session.flush()

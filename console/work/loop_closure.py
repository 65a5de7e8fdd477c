"""The written thank-you + outcome a referrer gets when a coordinator logs `loop_closed`.

The message is queued in the outbox (one per lead: idempotency key `loop_close:{practice}:
{lead_id}`) and sent later by `loopdesk automate` through the contact gate. Its channel follows
the referrer's consent: email when consented and known, else text; with neither (or
do-not-contact, or a console revocation) nothing is queued. What it says about the friend is
limited to what the practice's `OutreachSettings.outcome_detail` allows (templates.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from console.contact.consent import revoked_channels
from console.messaging.outbox import NewMessage, enqueue
from console.messaging.templates import render_loop_close
from console.models.outreach import Message
from console.models.practice import PracticeSettings
from console.models.work import Lead, LeadEvent, Task

if TYPE_CHECKING:  # a connection is handed in; `loopdesk log` need not import DuckDB
    import duckdb

PURPOSE = "loop_close"


@dataclass(frozen=True)
class Referrer:
    """The referrer's contact details and consent, and the lead's exported status."""

    first_name: str
    email: str | None
    phone: str | None
    consent_email: bool
    consent_text: bool
    do_not_contact: bool
    lead_status: str | None = None


# (practice_slug, referrer patient_id, lead_id) → the referrer, or None if unknown.
ReferrerLookup = Callable[[str, str, str], Referrer | None]

_REFERRER_SQL = """
with patient as (
    select first_name, email, phone, consent_email, consent_text, do_not_contact
    from mart_patients
    where practice_slug = $practice and patient_id = $patient
),

lead as (
    select status
    from mart_leads
    where practice_slug = $practice and lead_id = $lead
),

final as (
    select patient.*, (select status from lead limit 1) as lead_status
    from patient
)

select * from final
"""


def read_referrer(conn: duckdb.DuckDBPyConnection, *, practice_slug: str, patient_id: str,
                  lead_id: str) -> Referrer | None:
    """The referrer as a snapshot holds them, or None if the patient is not in it."""
    row = conn.execute(
        _REFERRER_SQL, {"practice": practice_slug, "patient": patient_id, "lead": lead_id}
    ).fetchone()
    if row is None:
        return None
    first, email, phone, consent_email, consent_text, do_not_contact, status = row
    return Referrer(first_name=first or "", email=email or None, phone=phone or None,
                    consent_email=bool(consent_email), consent_text=bool(consent_text),
                    do_not_contact=bool(do_not_contact), lead_status=status)


def published_referrer(practice_slug: str, patient_id: str, lead_id: str) -> Referrer | None:
    """The referrer from the published snapshot (None before the first build)."""
    from warehouse.snapshot import SnapshotMissing, reading_snapshot

    try:
        with reading_snapshot() as conn:
            return read_referrer(conn, practice_slug=practice_slug, patient_id=patient_id,
                                 lead_id=lead_id)
    except SnapshotMissing:
        return None


def _revoked(session: Session, practice_slug: str, patient_id: str) -> set[str]:
    """Channels the patient revoked in the console (latest event per channel wins)."""
    return revoked_channels(
        session=session, practice_slug=practice_slug, subject_type="patient",
        subject_id=patient_id,
    )


def message_channel(*, session: Session, practice_slug: str, patient_id: str,
                    referrer: Referrer | None) -> tuple[str, str] | None:
    """(outbox channel, recipient): email if consented and known, else sms; None if neither."""
    if referrer is None or referrer.do_not_contact:
        return None
    revoked = _revoked(session, practice_slug, patient_id)
    if referrer.consent_email and referrer.email and "email" not in revoked:
        return "email", referrer.email
    if referrer.consent_text and referrer.phone and "text" not in revoked:
        return "sms", referrer.phone
    return None


def lead_status(*, session: Session, practice_slug: str, lead_id: str,
                exported: str | None) -> str | None:
    """The lead's latest outcome: console events first, then a captured lead, then the export."""
    event = session.exec(
        select(LeadEvent.event).where(LeadEvent.practice_slug == practice_slug)
        .where(LeadEvent.lead_id == lead_id).where(LeadEvent.event != "loop_closed")
        .order_by(col(LeadEvent.at).desc(), col(LeadEvent.event_id).desc())
    ).first()
    if event is not None:
        return event
    captured = session.get(Lead, (practice_slug, lead_id))
    return captured.status if captured is not None else exported


def queue_thank_you(*, session: Session, task: Task, practice: PracticeSettings,
                    referrer: Referrer | None, now: datetime) -> Message | None:
    """Queue the thank-you for a close_loop task's lead, once; None if no consent or queued before.

    The caller commits (the disposition and its message land in one transaction).
    """
    if task.lead_id is None or task.patient_id is None or referrer is None:
        return None
    route = message_channel(session=session, practice_slug=task.practice_slug,
                            patient_id=task.patient_id, referrer=referrer)
    if route is None:
        return None
    channel, recipient = route
    rendered = render_loop_close(
        session=session, practice=practice, channel=channel, first_name=referrer.first_name,
        lead_status=lead_status(session=session, practice_slug=task.practice_slug,
                                lead_id=task.lead_id, exported=referrer.lead_status) or "",
    )
    return enqueue(session=session, now=now, message=NewMessage(
        idempotency_key=f"{PURPOSE}:{task.practice_slug}:{task.lead_id}",
        practice_slug=task.practice_slug, subject_type="patient", subject_id=task.patient_id,
        patient_id=task.patient_id, lead_id=task.lead_id, task_id=task.task_id,
        purpose=PURPOSE, channel=channel, template=rendered.template, recipient=recipient,
        subject=rendered.subject, body=rendered.body,
    ))

"""Leads captured in the console (coordinator on a call, or the public referral form)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, or_, select

from console.models.practice import PracticeSettings
from console.models.work import Lead, LeadEvent, Task, TaskKind
from console.platform.errors import UserError
from loopdesk_core.business_hours import add_business_days

LEAD_SOURCES = ("coordinator", "link")
DEFAULT_PHONE_REGION = "US"


@dataclass(frozen=True)
class LeadInput:
    """A referred friend's details as captured: a name and a phone or an email."""

    first_name: str
    last_name: str = ""
    phone: str | None = None
    email: str | None = None


def normalise_phone(raw: str, region: str = DEFAULT_PHONE_REGION) -> str:
    """The phone number in E.164, or UserError if it is not a valid number."""
    import phonenumbers  # only when a phone is given: `log`/`claim` start faster without it

    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as error:
        raise UserError("the lead's phone number is not valid") from error
    if not phonenumbers.is_valid_number(parsed):
        raise UserError("the lead's phone number is not valid")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def validate_lead(lead: LeadInput | None) -> LeadInput:
    """A clean LeadInput (trimmed, phone normalised), or UserError saying what is missing."""
    if lead is None or not lead.first_name.strip():
        raise UserError("a referred lead needs a first name")
    phone = lead.phone.strip() if lead.phone else None
    email = lead.email.strip().lower() if lead.email else None
    if not phone and not email:
        raise UserError("a referred lead needs a phone or an email")
    if email and ("@" not in email or " " in email):
        raise UserError("the lead's email address is not valid")
    return LeadInput(
        first_name=lead.first_name.strip(),
        last_name=lead.last_name.strip(),
        phone=normalise_phone(phone) if phone else None,
        email=email,
    )


def create_lead(
    *,
    session: Session,
    practice: PracticeSettings,
    referrer_patient_id: str | None,
    lead: LeadInput,
    source: str,
    now: datetime,
) -> tuple[Lead, Task | None]:
    """Store a new lead and open its `contact_lead` task; flushes, the caller commits.

    A lead with the same phone or email as an open console lead at the practice is stored
    as a duplicate of it and gets no task of its own.
    """
    if source not in LEAD_SOURCES:
        raise ValueError(f"unknown lead source {source!r}")
    clean = validate_lead(lead)
    same_person = [
        condition
        for condition in (
            col(Lead.phone) == clean.phone if clean.phone else None,
            col(Lead.email) == clean.email if clean.email else None,
        )
        if condition is not None
    ]
    original = session.exec(
        select(Lead)
        .where(Lead.practice_slug == practice.practice_slug)
        .where(col(Lead.duplicate_of_lead_id).is_(None))
        .where(or_(*same_person))
    ).first()
    row = Lead(
        practice_slug=practice.practice_slug,
        lead_id=f"{source[0]}-{uuid.uuid4().hex[:16]}",
        referrer_patient_id=referrer_patient_id,
        first_name=clean.first_name,
        last_name=clean.last_name,
        phone=clean.phone,
        email=clean.email,
        source=source,
        referred_at=now,
        status="new",
        status_at=now,
        duplicate_of_lead_id=original.lead_id if original else None,
    )
    session.add(row)
    session.flush()
    if original is not None:
        return row, None
    from console.work.rows import add_task

    task = add_task(
        session=session,
        practice=practice,
        now=now,
        fields={
            "natural_key": f"contact_lead:{practice.practice_slug}:{row.lead_id}",
            "kind": TaskKind.contact_lead,
            "practice_slug": practice.practice_slug,
            "subject_type": "lead",
            "subject_id": row.lead_id,
            "lead_id": row.lead_id,
            "referrer_patient_id": referrer_patient_id,
            "case_value": None,
            "consent_call": clean.phone is not None,
            "do_not_contact": False,
            "due_at": now,
            "sla_deadline": add_business_days(now, practice.lead_sla_business_days, practice),
            "decay_from": now,
        },
    )
    return row, task


def record_lead_event(
    *, session: Session, practice_slug: str, lead_id: str, event: str, now: datetime,
    booked_value: float | None = None,
) -> None:
    """Log a lead status change and mirror it on a console-captured lead; the caller commits."""
    session.add(LeadEvent(practice_slug=practice_slug, lead_id=lead_id, event=event, at=now,
                          booked_value=booked_value))
    captured = session.get(Lead, (practice_slug, lead_id))
    if captured is not None and event != "loop_closed":
        captured.status = event
        captured.status_at = now
        if booked_value is not None:
            captured.booked_value = booked_value
        session.add(captured)
    session.flush()

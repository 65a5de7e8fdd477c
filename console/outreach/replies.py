"""Inbound replies: an opt-out word revokes everything at once; other replies stop the cadence."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from console.contact.consent import revoke_consent
from console.contact.opt_out import is_opt_out
from console.messaging.outbox import NewMessage, cancel_queued, enqueue
from console.messaging.templates import render_opt_out_confirmation
from console.models.outreach import InboundReply, Message, MessageStatus
from console.models.practice import PracticeSettings
from console.models.work import Lead, TaskKind, Touch
from console.platform.db import begin_write
from console.platform.errors import UserError
from console.work.leads import normalise_phone

CHANNELS = ("sms", "email")
MAX_TEXT = 2000
# Signed SMS webhooks: HMAC-SHA256 over "<timestamp>.<raw body>", fresh within this window.
WEBHOOK_WINDOW_SECONDS = 300
SIGNATURE_PREFIX = "sha256="

# (practice_slug, subject_type, subject_id)
PersonKey = tuple[str, str, str]
PatientLookup = Callable[[str, str], Iterable[tuple[str, str]]]


@dataclass(frozen=True)
class InboundResult:
    """What recording a reply did (no addresses or names: safe to print and log)."""

    reply_id: int
    opt_out: bool
    people_matched: int
    practices: int
    tasks_cancelled: int
    messages_cancelled: int
    confirmation_queued: bool
    replied_message_id: int | None
    duplicate: bool = False

    def to_json(self) -> dict[str, Any]:
        """The `loopdesk inbound --json` shape."""
        return {name: value for name, value in self.__dict__.items() if name != "duplicate"}


DUPLICATE = InboundResult(reply_id=0, opt_out=False, people_matched=0, practices=0,
                          tasks_cancelled=0, messages_cancelled=0, confirmation_queued=False,
                          replied_message_id=None, duplicate=True)


def webhook_signature(*, secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature a provider sends for a webhook: `sha256=<hex HMAC of "t.body">`."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def webhook_is_authentic(*, secret: bytes | None, timestamp: str | None, signature: str | None,
                         body: bytes, now: datetime, wall_now: datetime | None = None) -> bool:
    """Whether a webhook is signed with the secret and its timestamp is within the window.

    Fresh means within the window of the app's clock, or of the wall clock when `LOOPDESK_NOW`
    pins the app's (a demo receiving a real provider's webhook, signed with real time).
    """
    if not secret or not timestamp or not signature or not timestamp.strip().isdigit():
        return False
    instants = [now] + ([wall_now] if wall_now is not None else [])
    if all(abs(t.timestamp() - int(timestamp)) > WEBHOOK_WINDOW_SECONDS for t in instants):
        return False
    expected = webhook_signature(secret=secret, timestamp=timestamp.strip(), body=body)
    given = signature.strip()
    if not given.startswith(SIGNATURE_PREFIX):
        given = SIGNATURE_PREFIX + given
    return hmac.compare_digest(expected.encode(), given.lower().encode())


def normalise_address(channel: str, address: str) -> str:
    """The address as the outbox stores it: E.164 for SMS, lower-case for email."""
    if channel not in CHANNELS:
        raise UserError(f"--channel must be one of {', '.join(CHANNELS)}")
    address = address.strip()
    if channel == "sms":
        try:
            return normalise_phone(address)
        except UserError as error:
            raise UserError("--from is not a valid phone number") from error
    if "@" not in address or " " in address:
        raise UserError("--from is not a valid email address")
    return address.lower()


def _people(session: Session, channel: str, address: str,
            patient_lookup: PatientLookup | None) -> set[PersonKey]:
    """Everyone with this address at any practice: message recipients, leads, known patients."""
    people: set[PersonKey] = set(
        session.exec(
            select(Message.practice_slug, Message.subject_type, Message.subject_id)
            .where(Message.channel == channel).where(Message.recipient == address)
        ).all()
    )
    lead_column = Lead.phone if channel == "sms" else Lead.email
    people |= {
        (slug, "lead", lead_id)
        for slug, lead_id in session.exec(
            select(Lead.practice_slug, Lead.lead_id).where(lead_column == address)
        ).all()
    }
    if patient_lookup is not None:
        people |= {(slug, "patient", pid) for slug, pid in patient_lookup(channel, address)}
    return people


def _confirmation(session: Session, channel: str, address: str, person: PersonKey,
                  now: datetime) -> bool:
    """Queue the one confirmation this address will ever get for an opt-out on this channel."""
    practice = session.get(PracticeSettings, person[0])
    rendered = render_opt_out_confirmation(
        practice_name=practice.name if practice is not None else "We"
    )
    digest = hashlib.sha256(f"{channel}:{address}".encode()).hexdigest()[:32]
    message = enqueue(session=session, now=now, message=NewMessage(
        idempotency_key=f"opt_out_confirmation:{channel}:{digest}",
        practice_slug=person[0], subject_type=person[1], subject_id=person[2],
        patient_id=person[2] if person[1] == "patient" else None,
        lead_id=person[2] if person[1] == "lead" else None,
        purpose="opt_out_confirmation", channel=channel, template=rendered.template,
        recipient=address, subject=rendered.subject, body=rendered.body,
    ))
    return message is not None


def _mark_replied(session: Session, channel: str, address: str, now: datetime,
                  replied_to: Message | None = None) -> Message | None:
    """The message replied to (else the latest sent to the address) becomes `replied`.

    That stops its cadence: no follow-up call is made for it.
    """
    query = (
        select(Message).where(Message.channel == channel).where(Message.recipient == address)
        .where(col(Message.status).in_((MessageStatus.sent, MessageStatus.replied)))
        .where(Message.purpose != "opt_out_confirmation")
        .order_by(col(Message.sent_at).desc(), col(Message.message_id).desc())
    )
    if replied_to is not None:
        query = query.where(Message.message_id == replied_to.message_id)
    latest = session.exec(query).first()
    if latest is None:
        return None
    latest.status, latest.replied_at = MessageStatus.replied, latest.replied_at or now
    latest.follow_up_checked = True
    session.add(latest)
    session.add(Touch(task_id=latest.task_id, practice_slug=latest.practice_slug,
                      subject_type=latest.subject_type, subject_id=latest.subject_id,
                      patient_id=latest.patient_id, lead_id=latest.lead_id,
                      treatment_id=latest.treatment_id, task_kind=TaskKind.ask,
                      channel=channel, disposition="replied", started_at=now, ended_at=now))
    return latest


def _handled_before(session: Session, channel: str, provider_message_id: str | None) -> bool:
    if provider_message_id is None:
        return False
    return session.exec(
        select(InboundReply.reply_id).where(InboundReply.channel == channel)
        .where(InboundReply.provider_message_id == provider_message_id)
    ).first() is not None


def record_inbound(
    *, session: Session, channel: str, address: str, text: str, now: datetime,
    patient_lookup: PatientLookup | None = None, provider_message_id: str | None = None,
    replied_to: Message | None = None,
) -> InboundResult:
    """Record a reply from `address`; an opt-out revokes consent for that person everywhere.

    `provider_message_id` (the SMS provider's id, an email's Message-ID) makes a reply count
    once however often it is delivered. `replied_to` is the message a reply token named: its
    person and the address it was sent to are matched, whatever the reply's sender claims.
    """
    sender = normalise_address(channel, replied_to.recipient if replied_to else address)
    text = text[:MAX_TEXT]
    opt_out = is_opt_out(text)
    provider_message_id = (provider_message_id or "").strip()[:200] or None
    begin_write(session)
    if _handled_before(session, channel, provider_message_id):
        session.commit()
        return DUPLICATE
    people = _people(session, channel, sender, patient_lookup)
    if replied_to is not None:
        people.add((replied_to.practice_slug, replied_to.subject_type, replied_to.subject_id))
    tasks_cancelled = messages_cancelled = 0
    confirmation = False
    replied: Message | None = None
    if opt_out:
        for person in sorted(people):
            tasks_cancelled += revoke_consent(session=session, practice_slug=person[0],
                                              subject_type=person[1], subject_id=person[2],
                                              source=f"reply:{channel}", now=now)
        messages_cancelled = cancel_queued(session=session, people=sorted(people),
                                           reason="opted out")
        # Stop any sent ask from turning into a follow-up call.
        for slug, subject_type, subject_id in people:
            session.execute(
                update(Message).execution_options(synchronize_session=False)
                .where(col(Message.practice_slug) == slug)
                .where(col(Message.subject_type) == subject_type)
                .where(col(Message.subject_id) == subject_id)
                .where(or_(col(Message.status) == MessageStatus.sent,
                           col(Message.status) == MessageStatus.failed))
                .values(follow_up_checked=True)
            )
        if people:
            confirmation = _confirmation(session, channel, sender, sorted(people)[0], now)
    else:
        replied = _mark_replied(session, channel, sender, now, replied_to)
    reply = InboundReply(channel=channel, sender=sender, text=text, opt_out=opt_out,
                         people_matched=len(people), received_at=now,
                         message_id=replied.message_id if replied is not None else None,
                         provider_message_id=provider_message_id)
    session.add(reply)
    try:
        session.commit()
    except IntegrityError:  # PostgreSQL: the same provider message, recorded concurrently
        session.rollback()
        return DUPLICATE
    return InboundResult(
        reply_id=reply.reply_id or 0, opt_out=opt_out, people_matched=len(people),
        practices=len({slug for slug, _, _ in people}), tasks_cancelled=tasks_cancelled,
        messages_cancelled=messages_cancelled, confirmation_queued=confirmation,
        replied_message_id=replied.message_id if replied is not None else None,
    )


def snapshot_patient_lookup(snapshot: Any) -> PatientLookup:
    """Find patients by phone or email in a warehouse snapshot (a DuckDB connection)."""

    def lookup(channel: str, address: str) -> list[tuple[str, str]]:
        column = "phone" if channel == "sms" else "lower(email)"
        rows = snapshot.execute(
            f"select practice_slug, patient_id from mart_patients where {column} = ?",
            [address],
        ).fetchall()
        return [(str(slug), str(pid)) for slug, pid in rows]

    return lookup

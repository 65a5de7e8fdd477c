"""The outbox: messages are stored first, then claimed atomically and sent at most once.

Delivery is **at most once**. A pass claims due rows (queued → sending, with a lease and a
claim token) in one write transaction, sends outside it, and records the outcome only if it
still holds the claim. A row left in `sending` after its lease (the sender crashed between
claiming and recording) is NOT resent — the message may already have gone out — but marked
failed with reason "interrupted"; a patient never receives the same message twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from html import escape
from typing import Any

from sqlalchemy import bindparam, update
from sqlmodel import Session, col, select

from console.contact.gate import Person, check_gate
from console.identity import audit
from console.identity.audit import Outcome
from console.messaging.channels import Attachment, Channels, MessageParts, SendError
from console.messaging.delivery import (
    UNDELIVERABLE,
    is_undeliverable,
    mark_undeliverable,
    new_email_identity,
    reply_address,
    rfc_message_id,
)
from console.messaging.templates import text_to_html
from console.models.outreach import Message, MessageAttachment, MessageStatus
from console.models.practice import PracticeSettings
from console.models.work import TaskKind, Touch
from console.platform.db import begin_write, is_postgres

MAX_ATTEMPTS = 3
BACKOFF_BASE = timedelta(minutes=5)
LEASE = timedelta(minutes=5)
CLAIM_BATCH = 100
# A gate refusal for timing (quiet hours, fatigue) is retried later, not counted as an attempt.
GATE_RETRY_AFTER = timedelta(hours=1)
# Refusals that will not pass by waiting: the message is cancelled.
PERMANENT_GATE_REASONS = ("do not contact", "no consent for this channel")
# Consent is not asked for the one confirmation of an opt-out the person just sent.
CONSENT_EXEMPT_PURPOSES = ("opt_out_confirmation",)
# Messages to the agency's clients (not to patients or their friends): the contact gate (consent,
# quiet hours, fatigue caps) does not apply, no touch is recorded, and each delivery is audited.
CLIENT_PURPOSES = ("monthly_report",)


@dataclass
class SendCounts:
    """What one sending pass did."""

    sent: int = 0
    failed: int = 0
    retried: int = 0
    skipped_gate: int = 0
    cancelled: int = 0


@dataclass(frozen=True)
class NewMessage:
    """What a caller wants sent; `idempotency_key` makes enqueueing it twice a no-op."""

    idempotency_key: str
    practice_slug: str
    subject_type: str
    subject_id: str
    purpose: str
    channel: str
    template: str
    recipient: str
    subject: str
    body: str
    patient_id: str | None = None
    lead_id: str | None = None
    treatment_id: str | None = None
    task_id: int | None = None
    attachments: tuple[Attachment, ...] = ()
    # Email only (set by `enqueue` when missing): see console/messaging/delivery.py.
    body_html: str | None = None
    delivery_key: str | None = None
    unsubscribe_url: str | None = None


def _email_fields(message: NewMessage, now: datetime) -> dict[str, Any]:
    """Delivery key, unsubscribe URL and HTML part of an email; the text gets the link too."""
    if message.delivery_key and message.unsubscribe_url:
        key, url = message.delivery_key, message.unsubscribe_url
    else:
        identity = new_email_identity(now=now)
        key, url = identity.delivery_key, identity.unsubscribe_url
    body, html = message.body, message.body_html or text_to_html(message.body)
    # Every email says how to unsubscribe, except the confirmation that one did.
    if message.purpose not in CONSENT_EXEMPT_PURPOSES:
        if url not in body:
            body = f"{body}\n\nUnsubscribe: {url}"
        if escape(url, quote=True) not in html:
            html += f'\n<p><small><a href="{escape(url, quote=True)}">Unsubscribe</a></small></p>'
    return {"delivery_key": key, "unsubscribe_url": url, "body": body, "body_html": html}


def enqueue(*, session: Session, message: NewMessage, now: datetime) -> Message | None:
    """Insert the message unless its key exists; returns the new row, or None if it existed.

    Uses the database's `on conflict do nothing`, so concurrent passes cannot both insert.
    Attachments are stored with the new row. The caller commits.
    """
    fields = {k: v for k, v in message.__dict__.items() if k != "attachments"}
    values: dict[str, Any] = {
        **fields, "status": MessageStatus.queued, "attempts": 0,
        "created_at": now, "next_attempt_at": now, "follow_up_checked": False,
    }
    # Patients' and leads' emails get a reply token and unsubscribe; a client's report does not.
    if message.channel == "email" and message.purpose not in CLIENT_PURPOSES:
        values.update(_email_fields(message, now))
    # Only the dialect in use is imported (`inbound` starts per SMS: start-up matters).
    dialect_insert: Any
    if is_postgres(session):
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    statement = (
        dialect_insert(Message).values(**values)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(col(Message.message_id))
    )
    inserted = session.execute(statement).scalar_one_or_none()
    if inserted is None:
        return None
    for attachment in message.attachments:
        session.add(MessageAttachment(message_id=inserted, filename=attachment.filename,
                                      content_type=attachment.content_type,
                                      content=attachment.content))
    return session.get(Message, inserted)


def attachments_of(session: Session, message_id: int | None) -> tuple[Attachment, ...]:
    """The files stored with a message, in the order they were added."""
    rows = session.exec(select(MessageAttachment)
                        .where(MessageAttachment.message_id == message_id)
                        .order_by(col(MessageAttachment.attachment_id))).all()
    return tuple(Attachment(filename=row.filename, content_type=row.content_type,
                            content=bytes(row.content)) for row in rows)


def claim_due(*, session: Session, now: datetime, limit: int = CLAIM_BATCH,
              purposes: Sequence[str] | None = None) -> list[Message]:
    """Atomically move up to `limit` due queued messages to `sending` under a fresh claim token.

    `purposes` limits the pass to messages of those purposes (None: every message).
    """
    token = uuid.uuid4().hex
    begin_write(session)
    due = (
        select(Message.message_id)
        .where(Message.status == MessageStatus.queued)
        .where(col(Message.next_attempt_at) <= now)
        .order_by(col(Message.next_attempt_at), col(Message.message_id))
        .limit(limit)
    )
    if purposes is not None:
        due = due.where(col(Message.purpose).in_(list(purposes)))
    if is_postgres(session):
        due = due.with_for_update(skip_locked=True)
    ids = list(session.exec(due).all())
    if ids:
        session.execute(
            update(Message)
            .execution_options(synchronize_session=False)
            .where(col(Message.message_id).in_(ids))
            .where(col(Message.status) == MessageStatus.queued)
            .values(status=MessageStatus.sending, claim_token=token,
                    lease_expires_at=now + LEASE)
        )
    session.commit()
    return list(session.exec(
        select(Message).where(Message.claim_token == token)
        .where(Message.status == MessageStatus.sending)
        .execution_options(populate_existing=True)
    ).all())


_MESSAGES = Message.__table__  # type: ignore[attr-defined]


@lru_cache(maxsize=32)
def _finish_statement(names: tuple[str, ...]) -> Any:
    """The fenced UPDATE recording an outcome that sets `names` (bound as `v_<name>`): built
    once per set of columns, not per message."""
    return (
        update(Message)
        .execution_options(synchronize_session=False)
        .where(col(Message.message_id) == bindparam("f_message_id"))
        .where(col(Message.claim_token) == bindparam("f_claim_token"))
        .where(col(Message.status) == MessageStatus.sending)
        .values(claim_token=None, lease_expires_at=None,
                **{name: bindparam(f"v_{name}", type_=_MESSAGES.c[name].type)
                   for name in names})
    )


def _finish(session: Session, message: Message, values: dict[str, Any]) -> bool:
    """Record an outcome only while the claim is still ours (fencing by claim token)."""
    begin_write(session)
    names = tuple(sorted(values))
    result = session.execute(
        _finish_statement(names),
        {"f_message_id": message.message_id, "f_claim_token": message.claim_token}
        | {f"v_{name}": values[name] for name in names},
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _gate(session: Session, message: Message, practice: PracticeSettings,
          now: datetime) -> str | None:
    """Why the message may not go now, or None."""
    # Consent on the message's channel was checked against the recorded consent when it was
    # queued (automation and loop closure only choose a channel the person consented to); here
    # the gate re-checks revocations since, do-not-contact, quiet hours and the caps.
    person = Person(practice_slug=message.practice_slug, subject_type=message.subject_type,
                    subject_id=message.subject_id, consented=True)
    result = check_gate(session=session, practice=practice, person=person,
                        channel=message.channel, now=now)
    if result.ok:
        return None
    exempt = message.purpose in CONSENT_EXEMPT_PURPOSES
    if exempt and result.reason in PERMANENT_GATE_REASONS:
        return None
    return result.reason


def parts_for(message: Message, practice: PracticeSettings | None) -> MessageParts | None:
    """The email's display name, HTML part, reply/bounce address, Message-ID and unsubscribe."""
    if message.channel != "email":
        return None
    if not message.delivery_key:
        if message.purpose not in CLIENT_PURPOSES:
            return None
        # A client's report goes to practice staff: an HTML alternative of the summary, but no
        # patient reply token or unsubscribe headers.
        return MessageParts(html=message.body_html or text_to_html(message.body))
    reply = reply_address(message.delivery_key)
    return MessageParts(
        sender_name=practice.name if practice is not None else "",
        html=message.body_html or None,
        reply_to=reply, message_id=rfc_message_id(message.delivery_key),
        unsubscribe_mailto=f"mailto:{reply}?subject=unsubscribe",
        unsubscribe_url=message.unsubscribe_url,
    )


def _audit_client_delivery(session: Session, message: Message, outcome: Outcome,
                           now: datetime) -> None:
    """Every delivery attempt of a message to a client is audited (ids only)."""
    if message.purpose in CLIENT_PURPOSES:
        audit.record(session=session, actor="system:outbox", action=f"{message.purpose}_sent",
                     practice_slug=message.practice_slug,
                     object_ref=f"message:{message.message_id}", outcome=outcome, now=now)


def _send_one(session: Session, message: Message, channels: Channels, now: datetime,
              counts: SendCounts) -> None:
    practice = session.get(PracticeSettings, message.practice_slug)
    to_patient = message.purpose not in CLIENT_PURPOSES
    if to_patient and is_undeliverable(session=session, channel=message.channel,
                                       address=message.recipient):
        # Known not to work: failed at once, so an ask becomes a follow-up call.
        _finish(session, message, {"status": MessageStatus.failed, "last_error": UNDELIVERABLE})
        counts.failed += 1
        session.commit()
        return
    if practice is None:
        reason: str | None = "practice unknown"
    elif message.purpose in CLIENT_PURPOSES:
        reason = None if practice.active else "practice inactive"
    else:
        reason = _gate(session, message, practice, now)
    if reason is not None:
        if reason in PERMANENT_GATE_REASONS or practice is None or not practice.active:
            _finish(session, message, {"status": MessageStatus.cancelled, "last_error": reason})
            counts.cancelled += 1
        else:
            _finish(session, message, {"status": MessageStatus.queued, "last_error": reason,
                                       "next_attempt_at": now + GATE_RETRY_AFTER})
        counts.skipped_gate += 1
        session.commit()
        return
    attachments = attachments_of(session, message.message_id)
    session.commit()  # release the reader snapshot before talking to the network
    # Attachments are passed only when there are some, so channels without them keep working.
    extra: dict[str, Any] = {"attachments": attachments} if attachments else {}
    parts = parts_for(message, practice)
    if parts is not None:  # likewise: only emails to patients and leads carry parts
        extra["parts"] = parts
    try:
        channels.get(message.channel).send(recipient=message.recipient,
                                           subject=message.subject, body=message.body, **extra)
    except SendError as error:
        attempts = message.attempts + 1
        if attempts >= MAX_ATTEMPTS or error.permanent:
            _finish(session, message, {"status": MessageStatus.failed, "attempts": attempts,
                                       "last_error": error.reason})
            # Undeliverable addresses are patients' and leads' (Data quality counts them).
            if error.undeliverable and to_patient:
                mark_undeliverable(session=session, message=message, reason=error.reason,
                                   now=now)
            counts.failed += 1
        else:
            _finish(session, message, {
                "status": MessageStatus.queued, "attempts": attempts, "last_error": error.reason,
                "next_attempt_at": now + BACKOFF_BASE * 2 ** (attempts - 1),
            })
            counts.retried += 1
        _audit_client_delivery(session, message, Outcome.failure, now)
        session.commit()
        return
    if _finish(session, message, {"status": MessageStatus.sent, "attempts": message.attempts + 1,
                                  "sent_at": now, "last_error": None}):
        if message.purpose in CLIENT_PURPOSES:
            _audit_client_delivery(session, message, Outcome.success, now)
            counts.sent += 1
            session.commit()
            return
        # The touch makes the fatigue cap count automated messages like calls.
        session.add(Touch(task_id=message.task_id, practice_slug=message.practice_slug,
                          subject_type=message.subject_type, subject_id=message.subject_id,
                          patient_id=message.patient_id, lead_id=message.lead_id,
                          treatment_id=message.treatment_id,
                          task_kind=TaskKind.ask if message.purpose == "ask" else None,
                          channel=message.channel, started_at=now, ended_at=now))
        counts.sent += 1
    session.commit()


def expire_interrupted(*, session: Session, now: datetime) -> int:
    """Mark `sending` rows whose lease ran out as failed (at most once: never resent)."""
    begin_write(session)
    result = session.execute(
        update(Message)
        .execution_options(synchronize_session=False)
        .where(col(Message.status) == MessageStatus.sending)
        .where(col(Message.lease_expires_at) < now)
        .values(status=MessageStatus.failed, claim_token=None, lease_expires_at=None,
                last_error="interrupted while sending; not resent (at-most-once)")
    )
    session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def send_due(*, session: Session, channels: Channels, now: datetime,
             limit: int = CLAIM_BATCH, purposes: Sequence[str] | None = None) -> SendCounts:
    """Claim and send every due message (of `purposes`, if given), batch by batch."""
    counts = SendCounts()
    counts.failed += expire_interrupted(session=session, now=now)
    while True:
        batch = claim_due(session=session, now=now, limit=limit, purposes=purposes)
        for message in batch:
            _send_one(session, message, channels, now, counts)
        if len(batch) < limit:
            return counts


def cancel_queued(*, session: Session, people: Sequence[tuple[str, str, str]],
                  reason: str) -> int:
    """Cancel queued messages to the given (practice, subject type, subject id); caller commits."""
    cancelled = 0
    for practice_slug, subject_type, subject_id in people:
        result = session.execute(
            update(Message)
            .execution_options(synchronize_session=False)
            .where(col(Message.practice_slug) == practice_slug)
            .where(col(Message.subject_type) == subject_type)
            .where(col(Message.subject_id) == subject_id)
            .where(col(Message.status) == MessageStatus.queued)
            .where(col(Message.purpose).not_in(CONSENT_EXEMPT_PURPOSES))
            .values(status=MessageStatus.cancelled, last_error=reason)
        )
        cancelled += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return cancelled

"""Operational-store tables: outreach (outbox, referral codes, form hits, inbound replies)."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from console.models.types import UTCDateTime


def _ts(*, nullable: bool = True, index: bool = False) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class MessageStatus(StrEnum):
    """Where an outbox message is: queued → sending → sent / failed → replied (or cancelled)."""

    queued = "queued"
    sending = "sending"
    sent = "sent"
    failed = "failed"
    replied = "replied"
    cancelled = "cancelled"


class Message(SQLModel, table=True):
    """One row per automated message, written before it is sent; `idempotency_key` is unique."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_due", "status", "next_attempt_at"),
        Index("ix_messages_subject", "practice_slug", "subject_type", "subject_id", "status"),
        Index("ix_messages_recipient", "channel", "recipient"),
    )

    message_id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(unique=True, max_length=200)
    practice_slug: str = Field(max_length=64)
    subject_type: str = Field(max_length=10, description="patient or lead")
    subject_id: str = Field(max_length=64)
    patient_id: str | None = Field(default=None, max_length=64)
    lead_id: str | None = Field(default=None, max_length=64)
    treatment_id: str | None = Field(default=None, max_length=64)
    task_id: int | None = Field(default=None, description="the ask task this message stands for")
    purpose: str = Field(max_length=30, description="ask, loop_close, opt_out_confirmation")
    channel: str = Field(max_length=10, description="email or sms")
    template: str = Field(max_length=40)
    recipient: str = Field(max_length=320, description="email address or E.164 phone")
    subject: str = ""
    body: str = ""
    status: str = Field(default=MessageStatus.queued, max_length=12)
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_column=_ts())
    claim_token: str | None = Field(default=None, max_length=40)
    lease_expires_at: datetime | None = Field(default=None, sa_column=_ts())
    last_error: str | None = None
    created_at: datetime = Field(sa_column=_ts(nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=_ts())
    replied_at: datetime | None = Field(default=None, sa_column=_ts())
    follow_up_checked: bool = Field(default=False, description="the no-reply follow-up is decided")
    # Email only: names the message in its Reply-To / bounce address and its Message-ID.
    delivery_key: str | None = Field(default=None, max_length=40, unique=True, index=True)
    body_html: str | None = Field(default=None, description="the HTML part of an email")
    unsubscribe_url: str | None = Field(default=None, description="the one-click unsubscribe URL")


class MessageAttachment(SQLModel, table=True):
    """A file sent with an outbox message (e.g. the monthly report PDF), stored with it so a
    retry sends the same bytes."""

    __tablename__ = "message_attachments"

    attachment_id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(index=True)
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=100, description="e.g. application/pdf")
    content: bytes = Field(sa_column=Column(LargeBinary(), nullable=False))


class ReferralCode(SQLModel, table=True):
    """One row per personal referral link: practice and referrer, bound by an HMAC in the code."""

    __tablename__ = "referral_codes"
    __table_args__ = (UniqueConstraint("practice_slug", "patient_id", name="uq_referral_referrer"),)

    code_id: str = Field(primary_key=True, max_length=40)
    practice_slug: str = Field(max_length=64)
    patient_id: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=_ts(nullable=False))
    expires_at: datetime = Field(sa_column=_ts(nullable=False))
    revoked: bool = False


class ReferralFormHit(SQLModel, table=True):
    """One row per request to the public form, keyed by an HMAC of the client (no raw address)."""

    __tablename__ = "referral_form_hits"
    __table_args__ = (Index("ix_form_hits_client", "client_key", "at"),)

    hit_id: int | None = Field(default=None, primary_key=True)
    client_key: str = Field(max_length=64)
    at: datetime = Field(sa_column=_ts(nullable=False))


class ReferralSubmission(SQLModel, table=True):
    """One row per accepted form submission: which code produced which lead."""

    __tablename__ = "referral_submissions"

    submission_id: int | None = Field(default=None, primary_key=True)
    code_id: str = Field(max_length=40)
    practice_slug: str = Field(max_length=64)
    referrer_patient_id: str = Field(max_length=64)
    lead_id: str = Field(max_length=64)
    duplicate: bool = False
    submitted_at: datetime = Field(sa_column=_ts(nullable=False))


class InboundReply(SQLModel, table=True):
    """One row per inbound reply (SMS or email): CLI, SMS webhook or the SMTP receiver."""

    __tablename__ = "inbound_replies"
    __table_args__ = (
        # A provider's message id is handled once, however often it is delivered.
        Index("ux_inbound_provider_message", "channel", "provider_message_id", unique=True),
    )

    reply_id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=10)
    sender: str = Field(max_length=320, description="normalised address")
    text: str = ""
    opt_out: bool = False
    people_matched: int = 0
    message_id: int | None = Field(default=None, description="the message replied to, if any")
    received_at: datetime = Field(sa_column=_ts(nullable=False))
    provider_message_id: str | None = Field(default=None, max_length=200)


class UndeliverableAddress(SQLModel, table=True):
    """One row per (practice, channel, address) a send was refused permanently or bounced for."""

    __tablename__ = "undeliverable_addresses"
    __table_args__ = (Index("ix_undeliverable_address", "channel", "address"),)

    practice_slug: str = Field(primary_key=True, max_length=64)
    channel: str = Field(primary_key=True, max_length=10)
    address: str = Field(primary_key=True, max_length=320, description="as the outbox stores it")
    reason: str = Field(max_length=200, description="the server's code, never its text")
    message_id: int | None = Field(default=None, description="the message that failed")
    marked_at: datetime = Field(sa_column=_ts(nullable=False))


class OutreachSettings(SQLModel, table=True):
    """Per-practice message templates and how much of a lead's outcome the referrer may hear."""

    __tablename__ = "outreach_settings"

    practice_slug: str = Field(primary_key=True, max_length=64)
    ask_email_subject: str | None = None
    ask_email_body: str | None = None
    ask_email_html: str | None = None
    ask_sms_body: str | None = None
    loop_close_body: str | None = None
    outcome_detail: str = Field(
        default="booked", max_length=12,
        description="none, booked or treatment: the most the referrer is told",
    )

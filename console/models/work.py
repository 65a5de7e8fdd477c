"""Operational-store tables: tasks, touches (calls and messages), leads and consent events."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, text
from sqlmodel import Field, SQLModel

from console.models.types import StatusText, UTCDateTime


class TaskKind(StrEnum):
    """The five kinds of work (DOMAIN.md)."""

    ask = "ask"
    follow_up = "follow_up"
    contact_lead = "contact_lead"
    close_loop = "close_loop"
    review_request = "review_request"


class Disposition(StrEnum):
    """A call's outcome (DOMAIN.md), as `touches.disposition`, `loopdesk log --disposition`
    and a task's `close_reason` carry it (the values are the contract's strings)."""

    referred = "referred"
    willing_no_name = "willing_no_name"
    declined = "declined"
    voicemail = "voicemail"
    no_answer = "no_answer"
    callback_requested = "callback_requested"
    wrong_number = "wrong_number"
    opted_out = "opted_out"
    loop_closed = "loop_closed"
    lead_booked = "lead_booked"
    lead_declined = "lead_declined"
    lead_unreachable = "lead_unreachable"


class TaskStatus(StrEnum):
    """Where a task is in its life; `escalated` is a flag on open tasks, exported as a status."""

    open = "open"
    claimed = "claimed"
    done = "done"
    cancelled = "cancelled"


# The queue indexes' condition (partial indexes: open tasks only).
_OPEN = text("status = 'open'")


def _ts(*, nullable: bool = True, index: bool = False) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class Task(SQLModel, table=True):
    """One row per unit of coordinator work, upserted by `natural_key`.

    Denormalised (practice time zone, contactable, ranking fields) so the queue can order
    and gate from this table alone, without joins at claim time.
    """

    __tablename__ = "tasks"
    __table_args__ = (
        # Cover every column the queue's window filters on and returns, so walking them in
        # rank order never touches the table (index-only); the window joins back for its
        # few best rows. (Replace ix_tasks_rank / ix_tasks_practice_rank, which lacked the
        # consent, do-not-contact and snooze columns.)
        # Both hold open tasks only (partial): the queue walks nothing else, and a claim,
        # which moves a task to `claimed`, then writes 6 index entries instead of 8 — and not
        # the two widest (docs/queue.md, "Open tasks only in the queue indexes"). Usable
        # because `status = 'open'` renders as a literal (StatusText).
        # (`status` last, not first: the planner drops `status = 'open'`, implied by the
        # index's condition, from the scan's bounds, so `kind` must lead; kept in the key so
        # SQLite still finds the walk covering.)
        Index("ix_tasks_queue", "kind", "rank_key", "sla_deadline", "due_at",
              "practice_tz", "escalated", "consent_call", "do_not_contact", "snoozed_until",
              "practice_slug", "task_id", "status", sqlite_where=_OPEN, postgresql_where=_OPEN),
        Index("ix_tasks_practice_queue", "practice_slug", "kind", "rank_key",
              "sla_deadline", "due_at", "practice_tz", "escalated", "consent_call",
              "do_not_contact", "snoozed_until", "task_id", "status", sqlite_where=_OPEN,
              postgresql_where=_OPEN),
        Index("ix_tasks_deadline", "status", "sla_deadline"),
        Index("ix_tasks_practice_deadline", "practice_slug", "status", "sla_deadline"),
        Index("ix_tasks_lease", "status", "lease_expires_at"),
        Index("ix_tasks_subject", "practice_slug", "subject_type", "subject_id", "status"),
    )

    task_id: int | None = Field(default=None, primary_key=True)
    natural_key: str = Field(unique=True, max_length=200)
    kind: str = Field(max_length=20)
    practice_slug: str = Field(max_length=64)
    practice_tz: str = Field(max_length=64)
    subject_type: str = Field(max_length=10, description="patient or lead: the person called")
    subject_id: str = Field(max_length=64)
    patient_id: str | None = Field(default=None, max_length=64)
    lead_id: str | None = Field(default=None, max_length=64)
    treatment_id: str | None = Field(default=None, max_length=64)
    referrer_patient_id: str | None = Field(default=None, max_length=64)
    source_task_id: int | None = None
    attempt: int = Field(default=1, description="1 for the first call of a chain")
    category: str | None = Field(default=None, max_length=40)
    case_value: float = 0.0
    satisfaction_score: float | None = None
    consent_call: bool = Field(default=True, description="the subject's call consent (export)")
    do_not_contact: bool = False
    created_at: datetime = Field(sa_column=_ts(nullable=False))
    due_at: datetime = Field(sa_column=_ts(nullable=False))
    sla_deadline: datetime = Field(sa_column=_ts(nullable=False))
    decay_from: datetime = Field(sa_column=_ts(nullable=False))
    value: float = Field(default=0.0, description="expected value if it succeeds, undecayed")
    p_success: float = 0.5
    expected_minutes: float = 8.0
    rank_key: float = Field(default=0.0, description="time-invariant log priority within a kind")
    # (Compared with a literal for known values: see StatusText and the queue indexes.)
    status: str = Field(default=TaskStatus.open, sa_type=StatusText(12, tuple(TaskStatus)))
    escalated: bool = False
    claimed_by: int | None = None
    claimed_at: datetime | None = Field(default=None, sa_column=_ts())
    lease_expires_at: datetime | None = Field(default=None, sa_column=_ts())
    claim_version: int = 0
    claim_count: int = Field(default=0, description="claims since the last disposition")
    snoozed_until: datetime | None = Field(default=None, sa_column=_ts())
    closed_at: datetime | None = Field(default=None, sa_column=_ts())
    close_reason: str | None = Field(default=None, max_length=40)


class Touch(SQLModel, table=True):
    """One row per contact attempt: a logged call or an automated message."""

    __tablename__ = "touches"
    __table_args__ = (
        Index("ix_touches_subject", "practice_slug", "subject_type", "subject_id", "started_at"),
        Index("ix_touches_practice_time", "practice_slug", "started_at"),
    )

    touch_id: int | None = Field(default=None, primary_key=True)
    task_id: int | None = Field(default=None, index=True)
    practice_slug: str = Field(max_length=64)
    subject_type: str = Field(max_length=10)
    subject_id: str = Field(max_length=64)
    patient_id: str | None = Field(default=None, max_length=64)
    lead_id: str | None = Field(default=None, max_length=64)
    treatment_id: str | None = Field(default=None, max_length=64)
    task_kind: str | None = Field(default=None, max_length=20)
    coordinator_id: int | None = None
    channel: str = Field(default="call", max_length=10)
    disposition: str | None = Field(default=None, max_length=30)
    notes: str = ""
    minutes: float = 0.0
    started_at: datetime = Field(sa_column=_ts(nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=_ts())


class Lead(SQLModel, table=True):
    """One row per lead captured in the console (coordinator capture or the referral form)."""

    __tablename__ = "leads"

    practice_slug: str = Field(primary_key=True, max_length=64)
    lead_id: str = Field(primary_key=True, max_length=64)
    referrer_patient_id: str | None = Field(default=None, max_length=64)
    first_name: str = ""
    last_name: str = ""
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=320)
    source: str = Field(max_length=20, description="coordinator or link")
    referred_at: datetime = Field(sa_column=_ts(nullable=False))
    status: str = Field(default="new", max_length=20)
    status_at: datetime | None = Field(default=None, sa_column=_ts())
    booked_value: float | None = None
    duplicate_of_lead_id: str | None = Field(default=None, max_length=64)
    matched_patient_id: str | None = Field(default=None, max_length=64)


class LeadEvent(SQLModel, table=True):
    """One row per lead status change made in the console (export leads and captured leads)."""

    __tablename__ = "lead_events"
    __table_args__ = (Index("ix_lead_events_lead", "practice_slug", "lead_id"),)

    event_id: int | None = Field(default=None, primary_key=True)
    practice_slug: str = Field(max_length=64)
    lead_id: str = Field(max_length=64)
    event: str = Field(max_length=20, description="contacted, booked, declined, ... loop_closed")
    at: datetime = Field(sa_column=_ts(nullable=False))
    booked_value: float | None = None


class ConsentEvent(SQLModel, table=True):
    """One row per consent change for a person at a practice on one channel."""

    __tablename__ = "consent_events"
    __table_args__ = (Index("ix_consent_subject", "practice_slug", "subject_type", "subject_id"),)

    event_id: int | None = Field(default=None, primary_key=True)
    practice_slug: str = Field(max_length=64)
    subject_type: str = Field(max_length=10)
    subject_id: str = Field(max_length=64)
    channel: str = Field(max_length=10, description="call, text or email")
    granted: bool
    source: str = Field(max_length=40)
    at: datetime = Field(sa_column=_ts(nullable=False))


class ClaimWindow(SQLModel, table=True):
    """The newest claim window of a scope, published by the process that ranked it so the
    claimers of other processes pop it instead of each ranking the same queue
    (console/work/window.py, "Windows shared between processes"). A cache: losing or
    emptying the table costs rankings, never a claim's correctness (every lease re-checks)."""

    __tablename__ = "claim_windows"

    scope_key: str = Field(primary_key=True, max_length=64, description="hash of the scope key")
    ranked_at: datetime = Field(sa_column=_ts(nullable=False))  # the ranking's `now`
    started_wall: float  # the publisher's wall clock when the ranking began (before its reads)
    publisher: str = Field(max_length=40)  # the publishing process's token
    entries: str  # JSON [[task_id, claim_version, practice_slug, priority], ...], best first

"""The automated ask cadence: one `loopdesk automate` pass over the snapshot and the outbox.

How automation and the call queue share an ask: when the ask for a treatment is automated,
the task with the same natural key (`ask:{practice}:{treatment}`) is closed as done with
reason `automated_ask` (or created closed, if refresh has not made it yet). Refresh never
resurrects a closed key, so no simultaneous call task exists. The human call comes as a
`follow_up` task once the message got no reply within 5 days, or at once if it failed.
Patients without email/text consent are not touched here: refresh gives them the `ask` call task.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
import polars as pl
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from console.contact.consent import revoked_channels
from console.messaging.channels import Channels
from console.messaging.delivery import new_email_identity
from console.messaging.outbox import NewMessage, enqueue, send_due
from console.messaging.referral_links import referral_code_for, referral_url
from console.messaging.templates import AskTemplates, current_ask_templates, render_ask_templates
from console.models.outreach import Message, MessageStatus, UndeliverableAddress
from console.models.practice import PracticeSettings
from console.models.work import ConsentEvent, Task, TaskKind, TaskStatus
from console.platform.db import begin_write
from console.work.refresh import add_task
from console.work.rows import Learned
from console.work.sources import ASK_COOLDOWN, ASK_SLA, TASK_COLUMNS
from loopdesk_core.business_hours import add_business_days

NO_REPLY_WINDOW = timedelta(days=5)
AUTOMATED = "automated_ask"


@dataclass(frozen=True)
class AutomationResult:
    """The `loopdesk automate --json` counts."""

    queued: int
    sent: int
    failed: int
    retried: int
    skipped_gate: int
    follow_ups_created: int

    def to_json(self) -> dict[str, int]:
        """The stable JSON shape."""
        return dict(self.__dict__)


def ask_targets(snapshot: duckdb.DuckDBPyConnection, now: datetime) -> pl.DataFrame:
    """Ask candidates visible by `now` with email or text consent, and the channel to use."""
    candidates = snapshot.sql("select * from mart_ask_candidates").pl()
    patients = snapshot.sql(
        "select practice_slug, patient_id, first_name, phone, email from mart_patients"
    ).pl()
    return choose_channel(candidates, patients, now)


def choose_channel(candidates: pl.DataFrame, patients: pl.DataFrame,
                   now: datetime) -> pl.DataFrame:
    """Email when consented and known, else SMS when consented and known; others dropped.

    `enqueue_asks` moves on to SMS when email was revoked in the console or is undeliverable.
    """
    return (
        candidates.with_columns(pl.col("results_visible_at").dt.convert_time_zone("UTC"))
        .filter(pl.col("results_visible_at") <= now)
        .join(patients, on=["practice_slug", "patient_id"], how="inner")
        .with_columns(
            channel=pl.when(
                pl.col("consent_email").fill_null(False) & pl.col("email").is_not_null()
            )
            .then(pl.lit("email"))
            .when(pl.col("consent_text").fill_null(False) & pl.col("phone").is_not_null())
            .then(pl.lit("sms")),
        )
        .filter(pl.col("channel").is_not_null())
        .with_columns(
            recipient=pl.when(pl.col("channel") == "email").then("email").otherwise("phone")
        )
        .sort("practice_slug", "patient_id", "treatment_id")
    )


def _revoked(session: Session, practice_slug: str, patient_id: str) -> set[str]:  # one person
    """Channels the patient revoked in the console (latest event per channel wins)."""
    return revoked_channels(
        session=session, practice_slug=practice_slug, subject_type="patient",
        subject_id=patient_id,
    )


@dataclass(frozen=True)
class _Facts:
    """What routing an ask needs to know about a pass's targets, read once for the pass:
    each target's channels revoked in the console (latest event per channel wins) and the
    addresses marked undeliverable. (Nothing in `enqueue_asks` writes either; the send's
    gate re-checks revocations and the address when the message goes.)"""

    revoked: dict[tuple[str, str], set[str]]
    undeliverable: set[tuple[str, str]]


def _facts(session: Session, rows: list[dict[str, Any]]) -> _Facts:
    """The revocations and undeliverable addresses of `rows`' patients (two queries)."""
    if not rows:
        return _Facts({}, set())
    events = session.exec(
        select(ConsentEvent.practice_slug, ConsentEvent.subject_id, ConsentEvent.channel,
               ConsentEvent.granted)
        .where(col(ConsentEvent.practice_slug).in_(sorted({r["practice_slug"] for r in rows})))
        .where(ConsentEvent.subject_type == "patient")
        .where(col(ConsentEvent.subject_id).in_(sorted({r["patient_id"] for r in rows})))
        .order_by(col(ConsentEvent.at), col(ConsentEvent.event_id))
    ).all()
    latest: dict[tuple[str, str], dict[str, bool]] = {}
    for slug, subject_id, channel, granted in events:
        latest.setdefault((slug, subject_id), {})[channel] = granted
    revoked = {person: {channel for channel, granted in channels.items() if not granted}
               for person, channels in latest.items()}
    addresses = sorted({address for r in rows for address in (r["email"], r["phone"]) if address})
    undeliverable = {
        (channel, address) for channel, address in session.exec(
            select(UndeliverableAddress.channel, UndeliverableAddress.address)
            .where(col(UndeliverableAddress.address).in_(addresses))
        ).all()
    } if addresses else set()
    return _Facts(revoked, undeliverable)


def _route(facts: _Facts, row: dict[str, Any]) -> tuple[str, str] | None:
    """The first consented channel (email, then SMS) not revoked and not undeliverable."""
    revoked = facts.revoked.get((row["practice_slug"], row["patient_id"]), set())
    options = (("email", "email", row["consent_email"], row["email"]),
               ("sms", "text", row["consent_text"], row["phone"]))
    for channel, consent, consented, address in options:
        if not consented or not address or consent in revoked:
            continue
        if (channel, address) in facts.undeliverable:
            continue
        return channel, address
    return None


def _asked_recently(session: Session, practice_slugs: set[str], now: datetime
                    ) -> set[tuple[str, str]]:
    """(practice, patient) pairs with a live ask (not cancelled) inside the cooldown."""
    if not practice_slugs:
        return set()
    rows = session.exec(
        select(Message.practice_slug, Message.subject_id).distinct()
        .where(col(Message.practice_slug).in_(sorted(practice_slugs)))
        .where(Message.subject_type == "patient")
        .where(Message.purpose == "ask")
        .where(col(Message.status) != MessageStatus.cancelled)
        .where(col(Message.created_at) > now - ASK_COOLDOWN)
    ).all()
    return {(slug, subject_id) for slug, subject_id in rows}


def _ask_task_fields(row: dict[str, Any]) -> dict[str, Any]:
    """The ask task refresh would create for this candidate (same natural key)."""
    visible = row["results_visible_at"]
    return {
        "natural_key": f"ask:{row['practice_slug']}:{row['treatment_id']}", "kind": TaskKind.ask,
        "practice_slug": row["practice_slug"], "subject_type": "patient",
        "subject_id": row["patient_id"], "patient_id": row["patient_id"], "lead_id": None,
        "treatment_id": row["treatment_id"], "referrer_patient_id": None,
        "category": row["category"], "case_value": row["treatment_value"],
        "satisfaction_score": row["satisfaction_score"],
        "consent_call": bool(row["consent_call"]), "do_not_contact": False,
        "due_at": visible, "sla_deadline": visible + ASK_SLA, "decay_from": visible,
    }


def _take_ask_task(session: Session, practice: PracticeSettings, row: dict[str, Any],
                   now: datetime, learned: Learned | None = None) -> Task | None:
    """Close (or create closed) the ask task the message replaces; None if a call owns it."""
    task = add_task(session=session, fields=_ask_task_fields(row), practice=practice, now=now,
                    learned=learned)
    if task.status == TaskStatus.open and task.claimed_by is None:
        task.status, task.closed_at, task.close_reason = TaskStatus.done, now, AUTOMATED
        session.add(task)
        session.flush()
        return task
    if task.close_reason == AUTOMATED:
        return task
    return None  # claimed by a coordinator, or already resolved by a call


def enqueue_asks(*, session: Session, targets: pl.DataFrame, now: datetime) -> int:
    """Write one ask message per target not yet asked; returns how many were queued."""
    practices = {p.practice_slug: p for p in session.exec(select(PracticeSettings)).all()}
    active = {slug for slug, practice in practices.items() if practice.active}
    # What the per-row checks need is read once for the pass (most targets were asked on an
    # earlier pass and drop out here); the loop keeps the set of asked patients current as it
    # queues, so a patient with two treatments is asked once, as before.
    asked = _asked_recently(session, active, now)
    rows = [row for row in targets.iter_rows(named=True)
            if row["practice_slug"] in active
            and (row["practice_slug"], row["patient_id"]) not in asked]
    facts = _facts(session, rows)
    templates: dict[str, AskTemplates] = {}
    learned: Learned | None = None
    queued = 0
    # One outbox row per person is I/O (a link, a task, an insert), not a frame transformation.
    for row in rows:
        practice = practices[row["practice_slug"]]
        route = _route(facts, row)
        if route is None:
            continue  # refresh's ask call task stays open for a coordinator
        channel, recipient = route
        if (row["practice_slug"], row["patient_id"]) in asked:
            continue
        code = referral_code_for(session=session, practice_slug=practice.practice_slug,
                                 patient_id=row["patient_id"], now=now)
        # Writer lock first: SQLite cannot upgrade a reader, and overlapping passes take turns.
        begin_write(session)
        if learned is None:
            learned = Learned.load(session)
        try:
            task = _take_ask_task(session, practice, row, now, learned)
        except IntegrityError:  # PostgreSQL: another pass created the task first
            session.rollback()
            continue
        if task is None:
            session.rollback()
            continue
        identity = new_email_identity(now=now) if channel == "email" else None
        if practice.practice_slug not in templates:
            templates[practice.practice_slug] = current_ask_templates(
                session=session, practice_slug=practice.practice_slug)
        rendered = render_ask_templates(
            templates[practice.practice_slug], practice=practice, channel=channel,
            first_name=row["first_name"] or "", link=referral_url(code),
            unsubscribe_url=identity.unsubscribe_url if identity else "")
        message = enqueue(session=session, now=now, message=NewMessage(
            idempotency_key=f"ask:{practice.practice_slug}:{row['patient_id']}:"
                            f"{row['treatment_id']}",
            practice_slug=practice.practice_slug, subject_type="patient",
            subject_id=row["patient_id"], patient_id=row["patient_id"],
            treatment_id=row["treatment_id"], task_id=task.task_id, purpose="ask",
            channel=channel, template=rendered.template, recipient=recipient,
            subject=rendered.subject, body=rendered.body, body_html=rendered.html or None,
            delivery_key=identity.delivery_key if identity else None,
            unsubscribe_url=identity.unsubscribe_url if identity else None,
        ))
        session.commit()
        if message is not None:
            queued += 1
            asked.add((row["practice_slug"], row["patient_id"]))
    return queued


def create_follow_ups(*, session: Session, now: datetime) -> int:
    """A `follow_up` call for asks unanswered after 5 days, or failed; each decided once."""
    due = session.exec(
        select(Message).where(Message.purpose == "ask")
        .where(col(Message.follow_up_checked).is_(False))
        .where(
            ((col(Message.status) == MessageStatus.sent)
             & (col(Message.sent_at) <= now - NO_REPLY_WINDOW))
            | (col(Message.status) == MessageStatus.failed)
        )
    ).all()
    created = 0
    learned: Learned | None = None  # the store's learned rates, read once for the pass
    for message in due:
        begin_write(session)
        task = session.get(Task, message.task_id) if message.task_id else None
        practice = session.get(PracticeSettings, message.practice_slug)
        revoked = _revoked(session, message.practice_slug, message.subject_id)
        if task is not None and practice is not None and task.consent_call \
                and "call" not in revoked:
            fields = {name: getattr(task, name) for name in TASK_COLUMNS} | {
                "natural_key": f"follow_up:{task.task_id}:automated", "kind": TaskKind.follow_up,
                "attempt": 1, "source_task_id": task.task_id, "due_at": now,
                "sla_deadline": add_business_days(now, practice.follow_up_sla_business_days,
                                                  practice),
            }
            if learned is None:
                learned = Learned.load(session)
            add_task(session=session, fields=fields, practice=practice, now=now,
                     value=task.value, expected_minutes=task.expected_minutes, learned=learned)
            created += 1
        session.execute(
            update(Message).execution_options(synchronize_session=False)
            .where(col(Message.message_id) == message.message_id)
            .values(follow_up_checked=True)
        )
        session.commit()
    return created


def run_automation(
    *, session: Session, snapshot: duckdb.DuckDBPyConnection | None, channels: Channels,
    now: datetime,
) -> AutomationResult:
    """One pass: queue new asks, send due messages, turn unanswered asks into call tasks."""
    queued = 0
    if snapshot is not None:
        queued = enqueue_asks(session=session, targets=ask_targets(snapshot, now), now=now)
    counts = send_due(session=session, channels=channels, now=now)
    follow_ups = create_follow_ups(session=session, now=now)
    return AutomationResult(queued=queued, sent=counts.sent, failed=counts.failed,
                            retried=counts.retried, skipped_gate=counts.skipped_gate,
                            follow_ups_created=follow_ups)

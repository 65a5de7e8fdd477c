"""Logging a call's outcome: the touch, the task's end, and the next action (DOMAIN.md table).

Every disposition is audited here, in its own transaction (SECURITY 21): action
`disposition`, object `task:{id}`, the disposition as outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from console.contact.consent import revoke_consent
from console.identity import audit
from console.identity.access import CurrentUser
from console.identity.audit import Action
from console.models.practice import PracticeSettings
from console.models.work import Disposition, Task, TaskKind, TaskStatus, Touch
from console.platform.db import begin_write
from console.platform.errors import UserError
from console.scoring.learned import Learned
from console.work.claims import StaleClaim, fenced_update
from console.work.leads import LeadInput, create_lead, record_lead_event, validate_lead
from console.work.loop_closure import ReferrerLookup, published_referrer, queue_thank_you
from console.work.rows import TASK_COLUMNS, add_task, rescore
from loopdesk_core.business_hours import add_business_days

PATIENT_DISPOSITIONS = frozenset({
    Disposition.willing_no_name, Disposition.referred, Disposition.declined,
    Disposition.voicemail, Disposition.no_answer, Disposition.callback_requested,
    Disposition.wrong_number, Disposition.opted_out, Disposition.loop_closed,
})  # fmt: skip
LEAD_DISPOSITIONS = frozenset({
    Disposition.lead_booked, Disposition.lead_declined, Disposition.lead_unreachable,
    Disposition.voicemail, Disposition.no_answer, Disposition.callback_requested,
    Disposition.wrong_number, Disposition.opted_out,
})  # fmt: skip
DISPOSITIONS = PATIENT_DISPOSITIONS | LEAD_DISPOSITIONS
# Business days before retrying after an unanswered call.
RETRY_AFTER_BUSINESS_DAYS = {Disposition.voicemail: 2, Disposition.no_answer: 1}
MAX_PATIENT_ATTEMPTS = 3
MAX_LEAD_ATTEMPTS = 4
WILLING_FOLLOW_UP = timedelta(days=14)
# The lead event each lead outcome records.
LEAD_OUTCOME_EVENTS = {
    Disposition.lead_booked: "booked", Disposition.lead_declined: "declined",
    Disposition.lead_unreachable: "unreachable",
}  # fmt: skip
MAX_NOTES = 2000


@dataclass(frozen=True)
class DispositionResult:
    """What logging a disposition did."""

    task_id: int
    disposition: str
    touch_id: int
    task_status: str
    next_task_id: int | None = None
    lead_id: str | None = None
    cancelled_tasks: int = 0
    thank_you_message_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The `loopdesk log --json` shape."""
        return {
            "task_id": self.task_id,
            "disposition": self.disposition,
            "touch_id": self.touch_id,
            "task_status": self.task_status,
            "next_task_id": self.next_task_id,
            "lead_id": self.lead_id,
            "cancelled_tasks": self.cancelled_tasks,
            "thank_you_message_id": self.thank_you_message_id,
        }


def closes_a_loop(task: Task) -> bool:
    """A close_loop task, or a retry in its chain (the only patient follow-up with a lead)."""
    return task.kind == TaskKind.close_loop or (
        task.kind == TaskKind.follow_up and task.subject_type == "patient"
        and task.lead_id is not None)


def _check(task: Task, disposition: str, minutes: float, callback_at: datetime | None,
           now: datetime, send_thank_you: bool) -> None:
    if disposition not in DISPOSITIONS:
        known = ", ".join(sorted(DISPOSITIONS))
        raise UserError(f"unknown disposition {disposition!r}; one of {known}")
    allowed = LEAD_DISPOSITIONS if task.subject_type == "lead" else PATIENT_DISPOSITIONS
    if disposition not in allowed:
        raise UserError(f"disposition {disposition!r} does not apply to a {task.kind} task")
    if disposition == Disposition.loop_closed and not closes_a_loop(task):
        raise UserError("loop_closed applies only to close_loop tasks")
    if send_thank_you and disposition != Disposition.loop_closed:
        raise UserError("a thank-you message goes only with loop_closed")
    if minutes < 0 or minutes > 600:
        raise UserError("minutes must be between 0 and 600")
    if disposition == Disposition.callback_requested and (callback_at is None
                                                          or callback_at <= now):
        raise UserError("callback_requested needs --callback-at in the future")


def _follow_up(session: Session, task: Task, practice: PracticeSettings, *, key: str,
               due_at: datetime, attempt: int, now: datetime) -> Task:
    """A follow-up in the same chain: same person, value and decay clock, later due time."""
    fields = {name: getattr(task, name) for name in TASK_COLUMNS}
    fields |= {
        "natural_key": key,
        "kind": TaskKind.follow_up,
        "attempt": attempt,
        "source_task_id": task.source_task_id or task.task_id,
        "referrer_patient_id": task.referrer_patient_id,
        "due_at": due_at,
        "sla_deadline": add_business_days(due_at, practice.follow_up_sla_business_days,
                                          practice),
    }
    return add_task(session=session, fields=fields, practice=practice, now=now,
                    value=task.value, expected_minutes=task.expected_minutes)


def _close_loop(
    session: Session, task: Task, practice: PracticeSettings, now: datetime
) -> Task | None:
    """The close_loop task for a lead whose outcome is now known (if the referrer is known)."""
    if task.lead_id is None or task.referrer_patient_id is None:
        return None  # an export lead's referrer comes with the next refresh
    return add_task(
        session=session, practice=practice, now=now,
        fields={
            "natural_key": f"close_loop:{task.practice_slug}:{task.lead_id}",
            "kind": TaskKind.close_loop, "practice_slug": task.practice_slug,
            "subject_type": "patient", "subject_id": task.referrer_patient_id,
            "patient_id": task.referrer_patient_id, "lead_id": task.lead_id,
            "consent_call": True, "do_not_contact": False, "case_value": None,
            "due_at": now,
            "sla_deadline": add_business_days(now, practice.close_loop_sla_business_days,
                                              practice),
            "decay_from": now,
        },
    )


def log_disposition(
    *,
    session: Session,
    user: CurrentUser,
    task_id: int,
    claim_version: int,
    disposition: str,
    minutes: float,
    notes: str,
    callback_at: datetime | None,
    lead: LeadInput | None,
    now: datetime,
    send_thank_you: bool = False,
    referrer_lookup: ReferrerLookup | None = None,
) -> DispositionResult:
    """Record a call outcome on a task the user holds and set the next action; commits.

    The disposition is audited in the same transaction. With `send_thank_you`, a
    `loop_closed` also queues the written thank-you to the referrer (loop_closure.py), found
    with `referrer_lookup` (the published snapshot unless a test passes its own).
    """
    begin_write(session)
    task = session.get(Task, task_id, populate_existing=True)
    if task is None:
        raise StaleClaim(f"no task {task_id}")
    _check(task, disposition, minutes, callback_at, now, send_thank_you)
    disposition = Disposition(disposition)
    if disposition == Disposition.referred:
        lead = validate_lead(lead)
    practice = session.get(PracticeSettings, task.practice_slug)
    if practice is None:
        raise UserError(f"practice {task.practice_slug} has no settings")

    retry_days = RETRY_AFTER_BUSINESS_DAYS.get(disposition)
    lead_retry = retry_days is not None and task.kind == TaskKind.contact_lead
    out_of_attempts = lead_retry and task.attempt >= MAX_LEAD_ATTEMPTS
    if lead_retry and not out_of_attempts:
        # A lead is retried on the same task (its SLA clock keeps running).
        values: dict[str, Any] = {
            "status": TaskStatus.open, "claimed_by": None, "lease_expires_at": None,
            "claim_count": 0, "attempt": task.attempt + 1,
            "due_at": add_business_days(now, retry_days or 1, practice),
        }
    else:
        values = {"status": TaskStatus.done, "closed_at": now, "close_reason": disposition,
                  "claimed_by": None, "lease_expires_at": None, "claim_count": 0}
    fenced_update(session=session, user=user, task_id=task_id, claim_version=claim_version,
                  values=values)
    touch = Touch(
        task_id=task.task_id, practice_slug=task.practice_slug, subject_type=task.subject_type,
        subject_id=task.subject_id, patient_id=task.patient_id, lead_id=task.lead_id,
        treatment_id=task.treatment_id, task_kind=task.kind, coordinator_id=user.user_id,
        channel="call", disposition=disposition, notes=notes[:MAX_NOTES], minutes=minutes,
        started_at=now - timedelta(minutes=minutes), ended_at=now,
    )
    session.add(touch)
    session.flush()
    audit.record(session=session, actor=user.actor, action=Action.disposition,
                 practice_slug=task.practice_slug, object_ref=f"task:{task_id}",
                 outcome=disposition, now=now)
    next_task: Task | None = None
    thank_you_id: int | None = None
    lead_id = task.lead_id
    cancelled = 0
    root = task.source_task_id or task.task_id

    if lead_retry and not out_of_attempts:
        session.refresh(task)
        rescore(task, Learned.load(session))
        session.add(task)
    elif retry_days is not None and task.kind != TaskKind.contact_lead:
        if task.attempt < MAX_PATIENT_ATTEMPTS:
            next_task = _follow_up(
                session, task, practice, key=f"follow_up:{root}:{task.attempt + 1}",
                due_at=add_business_days(now, retry_days, practice), attempt=task.attempt + 1,
                now=now)
    elif disposition == Disposition.callback_requested and callback_at is not None:
        if task.subject_type == "lead" and task.lead_id:
            record_lead_event(session=session, practice_slug=task.practice_slug,
                              lead_id=task.lead_id, event="contacted", now=now)
        next_task = _follow_up(
            session, task, practice, key=f"follow_up:{root}:callback:{touch.touch_id}",
            due_at=callback_at, attempt=task.attempt + 1, now=now)
    elif disposition == Disposition.willing_no_name:
        # The referral link goes out through the outbox; one reminder call, once per chain.
        next_task = _follow_up(session, task, practice, key=f"follow_up:{root}:willing",
                               due_at=now + WILLING_FOLLOW_UP, attempt=task.attempt, now=now)
    elif disposition == Disposition.referred and lead is not None:
        captured, next_task = create_lead(session=session, practice=practice,
                                          referrer_patient_id=task.patient_id, lead=lead,
                                          source="coordinator", now=now)
        lead_id = captured.lead_id
    elif disposition == Disposition.declined:
        cancelled = _cancel_asks(session, task, now)
    elif disposition == Disposition.opted_out:
        cancelled = revoke_consent(session=session, practice_slug=task.practice_slug,
                                   subject_type=task.subject_type, subject_id=task.subject_id,
                                   source="disposition", now=now,
                                   actor=user.actor)
    elif disposition in LEAD_OUTCOME_EVENTS or out_of_attempts or (
        disposition == Disposition.wrong_number and task.subject_type == "lead"
    ):
        # A lead's wrong number leaves no way to call them: unreachable, and the referrer
        # is told (close_loop) rather than the lead silently dropping out of the loop.
        event = LEAD_OUTCOME_EVENTS.get(disposition, "unreachable")
        if task.lead_id:
            record_lead_event(session=session, practice_slug=task.practice_slug,
                              lead_id=task.lead_id, event=event, now=now)
        next_task = _close_loop(session, task, practice, now)
    elif disposition == Disposition.loop_closed and task.lead_id:
        record_lead_event(session=session, practice_slug=task.practice_slug,
                          lead_id=task.lead_id, event="loop_closed", now=now)
        if send_thank_you and task.patient_id:
            lookup = referrer_lookup or published_referrer
            referrer = lookup(task.practice_slug, task.patient_id, task.lead_id)
            message = queue_thank_you(session=session, task=task, practice=practice,
                                      referrer=referrer, now=now)
            thank_you_id = message.message_id if message is not None else None
    session.commit()
    return DispositionResult(
        task_id=task_id, disposition=disposition, touch_id=touch.touch_id or 0,
        task_status=str(values["status"]),
        next_task_id=next_task.task_id if next_task is not None else None,
        lead_id=lead_id, cancelled_tasks=cancelled, thank_you_message_id=thank_you_id,
    )


def _cancel_asks(session: Session, task: Task, now: datetime) -> int:
    """A decline stops every other open ask or follow-up for that patient (365 days)."""
    result = session.execute(
        update(Task)
        .execution_options(synchronize_session=False)
        .where(col(Task.practice_slug) == task.practice_slug)
        .where(col(Task.subject_type) == "patient")
        .where(col(Task.subject_id) == task.subject_id)
        .where(col(Task.kind).in_((TaskKind.ask, TaskKind.follow_up)))
        .where(col(Task.status).in_((TaskStatus.open, TaskStatus.claimed)))
        .values(status=TaskStatus.cancelled, closed_at=now, close_reason=Disposition.declined,
                claimed_by=None, lease_expires_at=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]

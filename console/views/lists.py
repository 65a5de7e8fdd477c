"""The coordinator's lists: leads and loop closures of their practices (patient data: audited).

Each line carries what the table shows (names, readable status, local times) and, hidden
from the table, the open task its action claims ("Call now", "Close the loop").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from console.identity import audit
from console.identity.access import WORKER_ROLES, CurrentUser, require_role
from console.identity.audit import Action, Outcome
from console.models.practice import PracticeSettings
from console.models.work import Lead, Task, TaskKind, TaskStatus
from console.platform.db import retrying
from console.platform.snapshot import snapshot
from console.platform.wording import ago, humanise, outcome_label, phone_display
from console.views.data import countdown
from console.work.claims import claim_task
from loopdesk_core.business_hours import local
from warehouse import lookups

LIST_DAYS = 90
LIST_LIMIT = 200
OPEN_STATUSES = (TaskStatus.open, TaskStatus.claimed)
# What a referrer is told about their friend, by the lead's status.
LEAD_STATUS_TO_TELL = {
    "new": "not reached yet", "contacted": "we have been in touch",
    "booked": "booked a consultation", "treated": "started treatment",
    "declined": "decided not to go ahead", "unreachable": "could not be reached",
    "loop_closed": "already told",
}


@dataclass(frozen=True)
class ListLine:
    """One row of a coordinator list: the cells shown, and the task its action claims."""

    cells: dict[str, Any]
    practice_slug: str
    practice_name: str
    is_open: bool
    task_id: int | None = None  # the open task the action claims (never shown)
    label: str = ""  # how the action's picker names this row
    status: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _zones(session: Session, slugs: list[str]) -> dict[str, str]:
    return {p.practice_slug: p.timezone for p in session.exec(
        select(PracticeSettings).where(col(PracticeSettings.practice_slug).in_(slugs)))}


def _when(at: datetime | None, timezone: str, now: datetime) -> str:
    if at is None:
        return "—"
    return f"{local(at, timezone):%b %d %H:%M} ({ago(now - at)})"


def _audit_list(session: Session, user: CurrentUser, what: str, slugs: list[str],
                now: datetime) -> None:
    def write() -> None:
        for slug in slugs:
            audit.record(session=session, actor=user.actor, action=Action.view_patient,
                         practice_slug=slug, object_ref=f"list:{what}",
                         outcome=Outcome.success, now=now)
        session.commit()

    retrying(session, write)


def _open_tasks(session: Session, kind: str, slugs: list[str]) -> dict[tuple[str, str], Task]:
    """Open (or held) tasks of `kind` by (practice, lead id)."""
    rows = session.exec(
        select(Task).where(Task.kind == kind).where(col(Task.practice_slug).in_(slugs))
        .where(col(Task.status).in_(OPEN_STATUSES)).where(col(Task.lead_id).is_not(None))
    ).all()
    return {(t.practice_slug, t.lead_id or ""): t for t in rows}


def _to_do(task: Task | None, user: CurrentUser, now: datetime) -> tuple[str, bool]:
    """What the row's task waits for, and whether this user may claim it now."""
    if task is None:
        return "—", False
    if task.status == TaskStatus.claimed:
        return "being worked", False
    if task.escalated and user.role.value == "coordinator":
        return "with a manager", False
    if task.snoozed_until is not None and task.snoozed_until > now:
        return "snoozed", False
    if task.due_at > now:
        return "later", False
    return "call", True


def _name(*parts: Any) -> str:
    return " ".join(str(p) for p in parts if p) or "(name not on file)"


def leads_list(*, session: Session, user: CurrentUser, now: datetime) -> list[ListLine]:
    """Leads of the user's practices referred in the last 90 days: ones still to call first,
    then newest; each with phone, referrer's name, status, and the task "Call now" claims."""
    with snapshot() as conn:
        names = lookups.practice_names(conn, scope=user.scope)
        slugs = sorted(names)
        if not slugs:
            return []
        rows = lookups.recent_leads(conn, scope=user.scope, practice_slugs=slugs,
                                    since=now - timedelta(days=LIST_DAYS), limit=LIST_LIMIT)
        console_leads = {
            (lead.practice_slug, lead.lead_id): lead
            for lead in session.exec(
                select(Lead).where(col(Lead.practice_slug).in_(slugs))
                .where(col(Lead.referred_at) >= now - timedelta(days=LIST_DAYS))
            ).all()
        }
        seen = {(r["practice_slug"], r["lead_id"]) for r in rows}
        merged = [dict(r) for r in rows] + [
            {"practice_slug": lead.practice_slug, "lead_id": lead.lead_id,
             "lead_first_name": lead.first_name, "lead_last_name": lead.last_name,
             "source": lead.source, "lead_phone": lead.phone, "referred_at": lead.referred_at,
             "status": lead.status, "referrer_patient_id": lead.referrer_patient_id}
            for key, lead in console_leads.items() if key not in seen
        ]
        referrers = {
            (r["practice_slug"], r["patient_id"]): _name(r["first_name"], r["last_name"])
            for r in lookups.patient_names(
                conn, scope=user.scope, practice_slugs=slugs,
                patient_ids={r["referrer_patient_id"] for r in merged
                             if r["referrer_patient_id"]})
        }
    zones = _zones(session, slugs)
    tasks = _open_tasks(session, TaskKind.contact_lead, slugs)
    out = []
    for row in merged:
        key = (row["practice_slug"], row["lead_id"])
        lead = console_leads.get(key)
        first = lead.first_name if lead else row["lead_first_name"]
        last = lead.last_name if lead else row["lead_last_name"]
        status = (lead.status if lead else row["status"]) or "new"
        phone = (lead.phone if lead else None) or row["lead_phone"]
        task = tasks.get(key)
        person = _name(first, last)
        practice = names[row["practice_slug"]]
        referrer = referrers.get((row["practice_slug"], row["referrer_patient_id"] or ""),
                                 "a patient (not in the latest build)" if
                                 row["referrer_patient_id"] else "—")
        tz = zones.get(row["practice_slug"], "UTC")
        to_do, actionable = _to_do(task, user, now)
        out.append(ListLine(
            cells={"lead": person, "phone": phone_display(phone) or "—", "practice": practice,
                   "referred by": referrer, "status": humanise(status),
                   "to do": to_do,
                   "referred": _when(row["referred_at"], tz, now),
                   "source": "referral link" if row["source"] == "link" else humanise(
                       row["source"])},
            practice_slug=row["practice_slug"], practice_name=practice,
            is_open=task is not None, task_id=task.task_id if task and actionable else None,
            label=f"{person} · {practice} · {humanise(status)}", status=status,
            extra={"referred_at": row["referred_at"]},
        ))
    out.sort(key=lambda line: (not line.is_open, -line.extra["referred_at"].timestamp()))
    _audit_list(session, user, "leads", slugs, now)
    return out


def loop_closures(*, session: Session, user: CurrentUser, now: datetime) -> list[ListLine]:
    """Close-the-loop work of the user's practices: open ones first (soonest deadline), then
    the last 30 days'; with referrer and lead by name and what to tell the referrer."""
    with snapshot() as conn:
        names = lookups.practice_names(conn, scope=user.scope)
        slugs = sorted(names)
        if not slugs:
            return []
        tasks = session.exec(
            select(Task).where(Task.kind == TaskKind.close_loop)
            .where(col(Task.practice_slug).in_(slugs))
            .where(col(Task.status) != TaskStatus.cancelled)
            .where((col(Task.closed_at).is_(None))
                   | (col(Task.closed_at) >= now - timedelta(days=30)))
            .order_by(col(Task.sla_deadline)).limit(LIST_LIMIT)
        ).all()
        people = {
            (r["practice_slug"], r["patient_id"]): _name(r["first_name"], r["last_name"])
            for r in lookups.patient_names(conn, scope=user.scope, practice_slugs=slugs,
                                           patient_ids={t.subject_id for t in tasks})
        }
        leads = {
            (r["practice_slug"], r["lead_id"]): (_name(r["lead_first_name"], r["lead_last_name"]),
                                                 r["status"])
            for r in lookups.lead_names(conn, scope=user.scope, practice_slugs=slugs,
                                        lead_ids={t.lead_id for t in tasks if t.lead_id})
        }
    for lead in session.exec(select(Lead).where(col(Lead.practice_slug).in_(slugs))
                             .where(col(Lead.lead_id).in_({t.lead_id for t in tasks
                                                           if t.lead_id}))):
        leads[(lead.practice_slug, lead.lead_id)] = (_name(lead.first_name, lead.last_name),
                                                     lead.status)
    out = []
    for t in tasks:
        is_open = t.closed_at is None and t.status in OPEN_STATUSES
        referrer = people.get((t.practice_slug, t.subject_id), "(name not on file)")
        lead_name, lead_status = leads.get((t.practice_slug, t.lead_id or ""),
                                           ("(name not on file)", None))
        practice = names[t.practice_slug]
        out.append(ListLine(
            cells={"referrer": referrer, "friend": lead_name, "practice": practice,
                   "to tell them": LEAD_STATUS_TO_TELL.get(lead_status or "",
                                                           humanise(lead_status)),
                   "status": "open" if is_open else outcome_label(t.close_reason),
                   "SLA": countdown(t.sla_deadline, now) if is_open
                   else ("met" if t.closed_at and t.closed_at <= t.sla_deadline else "missed")},
            practice_slug=t.practice_slug, practice_name=practice, is_open=is_open,
            task_id=t.task_id if is_open and _to_do(t, user, now)[1] else None,
            label=f"{referrer} (friend: {lead_name}) · {practice}",
            status="open" if is_open else "done",
        ))
    out.sort(key=lambda line: not line.is_open)  # stable: open first, deadline order kept
    _audit_list(session, user, "loop_closures", slugs, now)
    return out


def call_now(*, session: Session, user: CurrentUser, task_id: int, now: datetime) -> Task:
    """Claim the task a list row names ("Call now", "Close the loop"); My queue shows it."""
    require_role(user, WORKER_ROLES)
    return retrying(session, lambda: claim_task(session=session, user=user,
                                                task_id=task_id, now=now))

"""The shared work queue: who may work what, ranking a bounded top-K, and leased claims."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, update
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from console.business_hours import iso_week_start, local
from console.db import begin_write
from console.errors import UserError
from console.gate import CALL_WINDOW, GateResult, Person, check_gates
from console.models.identity import Role, User, UserPractice
from console.models.practice import PracticeSettings
from console.models.work import Task, TaskStatus, Touch
from console.priority import (
    HALF_LIFE_DAYS,
    SHARE_MAX,
    Share,
    base_priority,
    explain,
    fair_share,
    urgency,
)
from console.settings import get_settings
from warehouse.scope import Scope

# A task whose lease lapsed this many times without a disposition goes to a manager.
ESCALATE_AFTER_CLAIMS = 3
# Candidates fetched per kind (by rank key) and by deadline; widened once if the bound fails.
TOP_K_START, TOP_K_MAX = 48, 384
# Tasks locked per attempt when claiming (the best few, skipping rows others hold).
CLAIM_BATCH = 8

_COLUMNS: tuple[Any, ...] = (
    Task.task_id,
    Task.kind,
    Task.practice_slug,
    Task.practice_tz,
    Task.subject_type,
    Task.subject_id,
    Task.rank_key,
    Task.sla_deadline,
    Task.due_at,
    Task.decay_from,
    Task.category,
    Task.case_value,
    Task.attempt,
    Task.consent_call,
    Task.do_not_contact,
    Task.status,
    Task.escalated,
)


class StaleClaim(UserError):
    """The caller no longer holds the task at that claim version (lease lost or never held)."""


@dataclass
class QueueEntry:
    """One task as a user sees it in the queue."""

    task_id: int
    kind: str
    practice_slug: str
    priority: float
    why: list[str]
    due_at: datetime
    sla_deadline: datetime
    callable_now: bool
    gate_reason: str | None
    status: str
    escalated: bool

    def to_json(self) -> dict[str, Any]:
        """The `loopdesk queue --json` shape of this entry."""
        return {
            "task_id": self.task_id,
            "kind": self.kind,
            "practice_slug": self.practice_slug,
            "priority": round(self.priority, 4),
            "why": self.why,
            "due_at": self.due_at.isoformat(),
            "sla_deadline": self.sla_deadline.isoformat(),
            "callable_now": self.callable_now,
            "gate_reason": self.gate_reason,
            "status": self.status,
            "escalated": self.escalated,
        }


@dataclass
class _Scored:
    row: Any
    priority: float
    share: Share
    gate: GateResult = field(default_factory=lambda: GateResult(True))

    @property
    def person(self) -> Person:
        return Person(
            practice_slug=self.row.practice_slug,
            subject_type=self.row.subject_type,
            subject_id=self.row.subject_id,
            consented=self.row.consent_call,
            do_not_contact=self.row.do_not_contact,
        )


def user_scope(*, session: Session, user: User) -> Scope:
    """The practices whose work the user may see: assigned ones; all for managers and admins."""
    if not user.active or user.role == Role.client_owner:
        return Scope()
    if user.role in (Role.manager, Role.admin):
        return Scope.agency()
    slugs = session.exec(
        select(UserPractice.practice_slug).where(UserPractice.user_id == user.user_id)
    ).all()
    return Scope.of(slugs)


def _may_see_escalated(user: User) -> bool:
    return user.role in (Role.manager, Role.admin)


def expire_leases(*, session: Session, now: datetime) -> int:
    """Return lapsed leases to the queue (escalating chronic ones); the caller commits."""
    result = session.execute(
        update(Task)
        .execution_options(synchronize_session=False)
        .where(col(Task.status) == TaskStatus.claimed)
        .where(col(Task.lease_expires_at) <= now)
        .values(
            status=TaskStatus.open,
            claimed_by=None,
            lease_expires_at=None,
            escalated=or_(col(Task.escalated), col(Task.claim_count) >= ESCALATE_AFTER_CLAIMS),
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _open_zones(session: Session, now: datetime) -> list[str]:
    """Practice time zones whose local time is inside the calling window now."""
    zones = session.exec(select(PracticeSettings.timezone).distinct()).all()
    start, end = CALL_WINDOW
    return [z for z in zones if start <= local(now, z).time() < end]


def _shares(session: Session, slugs: set[str], now: datetime) -> dict[str, Share]:
    """Each practice's fair-share standing this (UTC, ISO) week."""
    week_start = iso_week_start(now)
    fraction = (now - week_start) / timedelta(days=7)
    hours = dict(
        session.exec(
            select(PracticeSettings.practice_slug, PracticeSettings.contracted_hours_per_week)
            .where(col(PracticeSettings.practice_slug).in_(slugs))
        ).all()
    )
    minutes = dict(
        session.exec(
            select(Touch.practice_slug, func.sum(Touch.minutes))
            .where(col(Touch.practice_slug).in_(slugs))
            .where(col(Touch.started_at) >= week_start)
            .where(col(Touch.started_at) <= now)
            .group_by(col(Touch.practice_slug))
        ).all()
    )
    return {
        slug: fair_share(
            logged_minutes=float(minutes.get(slug) or 0.0),
            contracted_hours=float(hours.get(slug, 0.0)),
            week_fraction=fraction,
        )
        for slug in slugs
    }


def _filtered(query: Any, *, scope: Scope, now: datetime, zones: list[str] | None,
              escalated: bool) -> Any:
    query = (
        query.where(col(Task.status) == TaskStatus.open)
        .where(col(Task.due_at) <= now)
        .where(or_(col(Task.snoozed_until).is_(None), col(Task.snoozed_until) <= now))
    )
    if not scope.agency_wide:
        query = query.where(col(Task.practice_slug).in_(sorted(scope.practice_slugs)))
    if not escalated:
        query = query.where(col(Task.escalated).is_(False))
    if zones is not None:
        query = (
            query.where(col(Task.consent_call).is_(True))
            .where(col(Task.do_not_contact).is_(False))
            .where(col(Task.practice_tz).in_(zones))
        )
    return query


def _ranked(
    session: Session,
    *,
    scope: Scope,
    now: datetime,
    callable_only: bool,
    escalated: bool,
    wanted: int,
) -> list[_Scored]:
    """Open tasks in priority order, from a top-K window the indexes serve.

    Fetches the top K of each kind by `rank_key` and the K nearest deadlines; any task
    outside both has base ≤ the K-th base of its kind and urgency ≤ that of the K-th
    deadline, so if `wanted` found tasks beat that bound the order is exact; otherwise
    K widens once and the best of the wider window is used.
    """
    if not scope.agency_wide and not scope.practice_slugs:
        return []
    zones = _open_zones(session, now) if callable_only else None
    if zones == []:
        return []
    k = TOP_K_START
    while True:
        rows: dict[int, Any] = {}
        bound_base = 0.0
        for kind in HALF_LIFE_DAYS:
            query = _filtered(select_columns(*_COLUMNS).where(col(Task.kind) == kind),
                              scope=scope, now=now, zones=zones, escalated=escalated)
            got = session.execute(query.order_by(col(Task.rank_key).desc()).limit(k)).all()
            rows.update({r.task_id: r for r in got})
            if len(got) == k:
                last = got[-1]
                bound_base = max(bound_base, base_priority(kind=kind, rank_key=last.rank_key,
                                                           now=now))
        query = _filtered(select_columns(*_COLUMNS), scope=scope, now=now, zones=zones,
                          escalated=escalated)
        near = session.execute(query.order_by(col(Task.sla_deadline)).limit(k)).all()
        rows.update({r.task_id: r for r in near})
        bound = 0.0
        if len(near) == k:
            bound = bound_base * urgency(sla_deadline=near[-1].sla_deadline, now=now) * SHARE_MAX
        shares = _shares(session, {r.practice_slug for r in rows.values()}, now)
        scored = sorted(
            (
                _Scored(
                    row=r,
                    priority=base_priority(kind=r.kind, rank_key=r.rank_key, now=now)
                    * urgency(sla_deadline=r.sla_deadline, now=now)
                    * shares[r.practice_slug].factor,
                    share=shares[r.practice_slug],
                )
                for r in rows.values()
            ),
            key=lambda s: (-s.priority, s.row.sla_deadline, s.row.task_id),
        )
        certain = len(scored) >= wanted and scored[wanted - 1].priority >= bound
        if certain or bound == 0.0 or k >= TOP_K_MAX:
            return scored
        k *= 4


def _practices(session: Session, slugs: set[str]) -> dict[str, PracticeSettings]:
    found = session.exec(
        select(PracticeSettings).where(col(PracticeSettings.practice_slug).in_(slugs))
    ).all()
    return {p.practice_slug: p for p in found}


def _gate(session: Session, scored: Sequence[_Scored], now: datetime) -> None:
    """Fill in each candidate's call gate (two queries for the whole batch)."""
    practices = _practices(session, {s.row.practice_slug for s in scored})
    results = check_gates(session=session, people=[s.person for s in scored], channel="call",
                          practices=practices, now=now)
    for item in scored:
        item.gate = results[item.person.key]


def list_queue(*, session: Session, user: User, now: datetime, limit: int = 50) -> list[QueueEntry]:
    """Open tasks the user may work, best first, each with its gate verdict and reasons."""
    scope = user_scope(session=session, user=user)
    scored = _ranked(session, scope=scope, now=now, callable_only=False,
                     escalated=_may_see_escalated(user), wanted=limit)[:limit]
    _gate(session, scored, now)
    return [
        QueueEntry(
            task_id=s.row.task_id,
            kind=s.row.kind,
            practice_slug=s.row.practice_slug,
            priority=s.priority,
            why=explain(kind=s.row.kind, category=s.row.category, case_value=s.row.case_value,
                        decay_from=s.row.decay_from, sla_deadline=s.row.sla_deadline,
                        attempt=s.row.attempt, share=s.share, now=now),
            due_at=s.row.due_at,
            sla_deadline=s.row.sla_deadline,
            callable_now=s.gate.ok,
            gate_reason=s.gate.reason,
            status=s.row.status,
            escalated=s.row.escalated,
        )
        for s in scored
    ]


def claim_next(*, session: Session, user: User, now: datetime) -> Task | None:
    """Atomically lease the best task the user may call now, or None; commits."""
    scope = user_scope(session=session, user=user)
    if not scope.agency_wide and not scope.practice_slugs:
        return None
    lease = timedelta(minutes=get_settings().lease_minutes)
    begin_write(session)
    expire_leases(session=session, now=now)
    scored = _ranked(session, scope=scope, now=now, callable_only=True,
                     escalated=_may_see_escalated(user), wanted=1)
    for start in range(0, len(scored), CLAIM_BATCH):
        batch = scored[start : start + CLAIM_BATCH]
        _gate(session, batch, now)
        order = [s.row.task_id for s in batch if s.gate.ok]
        if not order:
            continue
        # SKIP LOCKED on PostgreSQL: rows another claimer holds are passed over, not waited on.
        free = set(
            session.exec(
                select(Task.task_id)
                .where(col(Task.task_id).in_(order))
                .where(col(Task.status) == TaskStatus.open)
                .with_for_update(skip_locked=True)
            ).all()
        )
        chosen = next((task_id for task_id in order if task_id in free), None)
        if chosen is None:
            continue
        task = session.exec(
            select(Task).where(Task.task_id == chosen).execution_options(populate_existing=True)
        ).one()
        task.status = TaskStatus.claimed
        task.claimed_by = user.user_id
        task.claimed_at = now
        task.lease_expires_at = now + lease
        task.claim_version += 1
        task.claim_count += 1
        task.snoozed_until = None
        session.add(task)
        session.commit()
        return task
    session.commit()
    return None


def fenced_update(
    *, session: Session, user: User, task_id: int, claim_version: int, values: dict[str, Any]
) -> None:
    """Apply `values` to a task only if `user` still holds it at `claim_version`, else StaleClaim.

    One conditional UPDATE (compare-and-set on the fencing token), so a holder whose lease
    lapsed and was re-claimed by someone else cannot overwrite the new holder's work.
    """
    result = session.execute(
        update(Task)
        .execution_options(synchronize_session=False)
        .where(col(Task.task_id) == task_id)
        .where(col(Task.status) == TaskStatus.claimed)
        .where(col(Task.claimed_by) == user.user_id)
        .where(col(Task.claim_version) == claim_version)
        .values(**values)
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]
        return
    session.rollback()
    task = session.get(Task, task_id, populate_existing=True)
    if task is None:
        raise StaleClaim(f"no task {task_id}")
    if task.claimed_by == user.user_id and task.claim_version != claim_version:
        raise StaleClaim(f"task {task_id}: claim version {claim_version} is stale")
    raise StaleClaim(f"task {task_id} is not held by you (your lease lapsed or it was closed)")


def current_claim(*, session: Session, user: User, task_id: int) -> int:
    """The claim version the user holds on a task, or StaleClaim if they do not hold it."""
    task = session.get(Task, task_id, populate_existing=True)
    if task is None:
        raise StaleClaim(f"no task {task_id}")
    if task.status != TaskStatus.claimed or task.claimed_by != user.user_id:
        raise StaleClaim(f"task {task_id} is not held by you")
    return task.claim_version


def release(*, session: Session, user: User, task_id: int, claim_version: int,
            now: datetime) -> None:
    """Give a held task back to the queue (escalating one released too often); commits."""
    begin_write(session)
    task = session.get(Task, task_id, populate_existing=True)
    chronic = task is not None and task.claim_count >= ESCALATE_AFTER_CLAIMS
    fenced_update(session=session, user=user, task_id=task_id, claim_version=claim_version,
                  values={"status": TaskStatus.open, "claimed_by": None,
                          "lease_expires_at": None,
                          **({"escalated": True} if chronic else {})})
    session.commit()


def snooze(*, session: Session, user: User, task_id: int, claim_version: int,
           until: datetime, now: datetime) -> None:
    """Put a held task aside until `until` (it is not offered before then); commits."""
    if until <= now:
        raise UserError("snooze time must be in the future")
    begin_write(session)
    fenced_update(session=session, user=user, task_id=task_id, claim_version=claim_version,
                  values={"status": TaskStatus.open, "claimed_by": None,
                          "lease_expires_at": None, "snoozed_until": until})
    session.commit()

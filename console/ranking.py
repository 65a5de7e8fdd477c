"""Ranking open tasks for a scope: a bounded top-K the indexes serve, scored in Python.

The database orders by two indexed columns only: `rank_key` within each kind (the
time-invariant log of value × P / minutes) and `sla_deadline`. One statement fetches the
top K of each kind and the K nearest deadlines; urgency, decay-to-now and fair share are
applied to that window. A task outside it has a base priority ≤ the K-th of its kind and an
urgency ≤ that of the K-th deadline, so when the wanted tasks beat that bound the order is
exact; otherwise K widens (up to TOP_K_MAX) and the wider window's best is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, bindparam, func, literal, or_, select, union_all
from sqlalchemy.engine import Row
from sqlmodel import Session

from console.business_hours import iso_week_start, local
from console.db import UTCDateTime
from console.gate import CALL_WINDOW, GateResult, Person, check_gates
from console.models.practice import PracticeSettings
from console.models.work import Task, TaskStatus, Touch
from console.priority import HALF_LIFE_DAYS, SHARE_MAX, Share, base_priority, fair_share, urgency
from warehouse.scope import Scope

TOP_K_START, TOP_K_MAX = 48, 768
_TASKS = Task.__table__  # type: ignore[attr-defined]
_PRACTICES = PracticeSettings.__table__  # type: ignore[attr-defined]
_TOUCHES = Touch.__table__  # type: ignore[attr-defined]
_COLUMNS = (
    "task_id", "kind", "practice_slug", "practice_tz", "subject_type", "subject_id", "rank_key",
    "sla_deadline", "due_at", "decay_from", "category", "case_value", "attempt", "consent_call",
    "do_not_contact", "status", "escalated",
)  # fmt: skip
_DEADLINE_PART = len(HALF_LIFE_DAYS)


@dataclass
class Scored:
    """A candidate task with its priority now, its practice's share and its gate verdict."""

    row: Row[Any]
    priority: float
    share: Share
    gate: GateResult = field(default_factory=lambda: GateResult(True))

    @property
    def person(self) -> Person:
        """The person a call on this task would reach."""
        return Person(
            practice_slug=self.row.practice_slug,
            subject_type=self.row.subject_type,
            subject_id=self.row.subject_id,
            consented=self.row.consent_call,
            do_not_contact=self.row.do_not_contact,
        )


@lru_cache(maxsize=16)
def _candidates(*, scoped: bool, callable_only: bool, escalated: bool) -> Select[Any]:
    """The one top-K statement for a kind of scope (built once; parameters bound per call)."""
    tasks = _TASKS.c
    now = bindparam("now", type_=UTCDateTime())

    def available(part: int) -> Select[Any]:
        query = (
            select(*(tasks[name] for name in _COLUMNS), literal(part).label("part"))
            .where(tasks.status == TaskStatus.open)
            .where(tasks.due_at <= now)
            .where(or_(tasks.snoozed_until.is_(None), tasks.snoozed_until <= now))
        )
        if scoped:
            query = query.where(tasks.practice_slug.in_(bindparam("slugs", expanding=True)))
        if not escalated:
            query = query.where(tasks.escalated.is_(False))
        if callable_only:
            query = (
                query.where(tasks.consent_call.is_(True))
                .where(tasks.do_not_contact.is_(False))
                .where(tasks.practice_tz.in_(bindparam("zones", expanding=True)))
            )
        return query

    parts = [
        available(i).where(tasks.kind == kind).order_by(tasks.rank_key.desc())
        .limit(bindparam("k")).subquery().select()
        for i, kind in enumerate(HALF_LIFE_DAYS)
    ]  # fmt: skip
    parts.append(
        available(_DEADLINE_PART).order_by(tasks.sla_deadline).limit(bindparam("k"))
        .subquery().select()
    )  # fmt: skip
    return union_all(*parts)  # type: ignore[return-value]


def open_zones(session: Session, now: datetime) -> list[str]:
    """Practice time zones whose local time is inside the calling window now."""
    zones = session.execute(select(_PRACTICES.c.timezone).distinct()).scalars().all()
    start, end = CALL_WINDOW
    return [z for z in zones if start <= local(now, z).time() < end]


def practice_facts(session: Session, slugs: set[str]) -> dict[str, Row[Any]]:
    """Zone, contracted hours and contact caps of the given practices."""
    columns = _PRACTICES.c
    rows = session.execute(
        select(columns.practice_slug, columns.timezone, columns.contracted_hours_per_week,
               columns.max_touches_per_day, columns.max_touches_per_week)
        .where(columns.practice_slug.in_(sorted(slugs)))
    ).all()
    return {row.practice_slug: row for row in rows}


def shares(session: Session, practices: dict[str, Row[Any]], now: datetime) -> dict[str, Share]:
    """Each practice's fair-share standing this (UTC, ISO) week."""
    week_start = iso_week_start(now)
    touches = _TOUCHES.c
    minutes = dict(
        session.execute(
            select(touches.practice_slug, func.sum(touches.minutes))
            .where(touches.practice_slug.in_(sorted(practices)))
            .where(touches.started_at >= week_start)
            .where(touches.started_at <= now)
            .group_by(touches.practice_slug)
        ).all()
    )
    fraction = (now - week_start) / timedelta(days=7)
    return {
        slug: fair_share(
            logged_minutes=float(minutes.get(slug) or 0.0),
            contracted_hours=float(row.contracted_hours_per_week),
            week_fraction=fraction,
        )
        for slug, row in practices.items()
    }


def ranked(
    session: Session, *, scope: Scope, now: datetime, callable_only: bool, escalated: bool,
    wanted: int,
) -> tuple[list[Scored], dict[str, Row[Any]]]:
    """Open, due, unsnoozed tasks in the scope, best first (see module docstring)."""
    if not scope.agency_wide and not scope.practice_slugs:
        return [], {}
    statement = _candidates(scoped=not scope.agency_wide, callable_only=callable_only,
                            escalated=escalated)
    params: dict[str, Any] = {"now": now}
    if not scope.agency_wide:
        params["slugs"] = sorted(scope.practice_slugs)
    if callable_only:
        params["zones"] = open_zones(session, now)
        if not params["zones"]:
            return [], {}
    k = TOP_K_START
    while True:
        rows = session.execute(statement, params | {"k": k}).all()
        scored, practices, bound = _score(session, rows, k, now)
        certain = len(scored) >= wanted and scored[wanted - 1].priority >= bound
        if certain or bound == 0.0 or k >= TOP_K_MAX:
            return scored, practices
        k *= 4


def _score(
    session: Session, rows: Sequence[Row[Any]], k: int, now: datetime
) -> tuple[list[Scored], dict[str, Row[Any]], float]:
    """Score a window and compute the bound no task outside it can beat."""
    counts = [0] * (_DEADLINE_PART + 1)
    lowest_key: dict[str, float] = {}
    latest_deadline: datetime | None = None
    unique: dict[int, Row[Any]] = {}
    for row in rows:
        counts[row.part] += 1
        unique[row.task_id] = row
        if row.part == _DEADLINE_PART:
            latest_deadline = max(latest_deadline or row.sla_deadline, row.sla_deadline)
        else:
            lowest_key[row.kind] = min(lowest_key.get(row.kind, row.rank_key), row.rank_key)
    practices = practice_facts(session, {row.practice_slug for row in unique.values()})
    standing = shares(session, practices, now)
    scored = sorted(
        (
            Scored(
                row=row,
                priority=base_priority(kind=row.kind, rank_key=row.rank_key, now=now)
                * urgency(sla_deadline=row.sla_deadline, now=now)
                * standing[row.practice_slug].factor,
                share=standing[row.practice_slug],
            )
            for row in unique.values()
            if row.practice_slug in standing
        ),
        key=lambda s: (-s.priority, s.row.sla_deadline, s.row.task_id),
    )
    bound = 0.0
    if counts[_DEADLINE_PART] == k and latest_deadline is not None:
        best_base = max(
            (base_priority(kind=kind, rank_key=lowest_key[kind], now=now)
             for i, kind in enumerate(HALF_LIFE_DAYS) if counts[i] == k),
            default=0.0,
        )
        bound = best_base * urgency(sla_deadline=latest_deadline, now=now) * SHARE_MAX
    return scored, practices, bound


def gate_all(session: Session, scored: Sequence[Scored], practices: dict[str, Row[Any]],
             now: datetime) -> None:
    """Fill in each candidate's call gate (two queries for the whole batch)."""
    results = check_gates(session=session, people=[s.person for s in scored], channel="call",
                          practices=practices, now=now)
    for item in scored:
        item.gate = results[item.person.key]

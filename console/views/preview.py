"""Page-facing read models for My queue before a task is taken: the preview and time entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from console.contact.gate import CALL_WINDOW
from console.identity.access import WORKER_ROLES, CurrentUser, require_role
from console.models.practice import PracticeSettings
from console.models.work import Task, TaskStatus, Touch
from console.platform.wording import kind_label, until
from console.scoring.learned import held_zones, hour_factors
from console.views.data import countdown
from console.work.claims import QueueEntry, list_queue
from console.work.ranking import held_calls, open_zones, workable
from console.work.time_entries import log_time
from loopdesk_core.business_hours import local

PREVIEW_READ = 50
PREVIEW_ROWS = 10
WAITING_ROWS = 5


@dataclass(frozen=True)
class QueueLine:
    """One task as the queue preview shows it: no names, no phones, only work facts."""

    task_id: int
    practice_name: str
    kind: str
    why: str
    sla: str
    callable_now: bool
    when: str  # "now", or why it cannot be called now (e.g. "quiet hours in America/Phoenix")


@dataclass(frozen=True)
class Opening:
    """Tasks waiting for calling hours in one zone, and when calling opens there."""

    zone_name: str  # "Denver"
    opens_at: datetime  # UTC
    opens_local: str  # "08:00"
    opens_in: str  # "in 47 min"
    tasks: int

    @property
    def sentence(self) -> str:
        """ "calling opens at 08:00 in Denver — in 47 min" """
        return f"calling opens at {self.opens_local} in {self.zone_name} — {self.opens_in}"


@dataclass(frozen=True)
class HeldOpening:
    """Calls in one zone held for a better hour, and when that hour comes."""

    zone_name: str  # "Denver"
    opens_at: datetime  # UTC
    opens_local: str  # "17:00"
    opens_in: str  # "in 2 h"
    tasks: int

    @property
    def sentence(self) -> str:
        """ "the first opens at 17:00 in Denver (in 2 h)" """
        return f"the first opens at {self.opens_local} in {self.zone_name} ({self.opens_in})"


@dataclass(frozen=True)
class QueuePreview:
    """What My queue shows before a task is taken: the next call, the queue ahead, counts.

    `lines` are the top tasks in priority order, callable or not; `ahead` the callable ones
    after `next_up`, in the order Next task hands them out (the claim ranks callable tasks
    only, best first); `waiting` the best tasks that cannot be called now, with why.
    """

    next_up: QueueLine | None
    lines: list[QueueLine]
    open_tasks: int
    waiting_for_hours: int
    ahead: list[QueueLine] = field(default_factory=list)
    waiting: list[QueueLine] = field(default_factory=list)
    # Waiting tasks by when their calling hours open, soonest first.
    openings: list[Opening] = field(default_factory=list)
    # Calls the queue holds for a better hour today (ranking's rule), soonest hour first.
    held: list[HeldOpening] = field(default_factory=list)

    @property
    def held_calls(self) -> int:
        """How many callable tasks wait for a better hour."""
        return sum(opening.tasks for opening in self.held)

    @property
    def next_held(self) -> HeldOpening | None:
        """The soonest better hour, if calls are held."""
        return self.held[0] if self.held else None

    @property
    def next_opening(self) -> Opening | None:
        """The soonest opening, if tasks wait for calling hours."""
        return self.openings[0] if self.openings else None


def zone_name(timezone: str) -> str:
    """A zone as people say it: "America/New_York" → "New York"."""
    return timezone.split("/")[-1].replace("_", " ")


def opens_at(now: datetime, timezone: str) -> datetime:
    """The next moment the calling window opens in `timezone` (UTC)."""
    here = local(now, timezone)
    start = datetime.combine(here.date(), CALL_WINDOW[0], tzinfo=here.tzinfo)
    if here >= start:
        start = datetime.combine(here.date() + timedelta(days=1), CALL_WINDOW[0],
                                 tzinfo=here.tzinfo)
    return start.astimezone(UTC)


def _when(entry: QueueEntry, timezone: str, now: datetime) -> str:
    """When the task may be called: now, or the gate's reason (quiet hours name the zone)."""
    if entry.callable_now:
        return "now"
    reason = entry.gate_reason or "not callable now"
    if reason.startswith("outside "):
        opening = opens_at(now, timezone)
        return (f"quiet hours in {zone_name(timezone)} ({local(now, timezone):%H:%M} there); "
                f"opens at {local(opening, timezone):%H:%M}, {until(opening - now)}")
    return reason


def _line(entry: QueueEntry, practices: dict[str, PracticeSettings], now: datetime,
          held: dict[int, HeldOpening]) -> QueueLine:
    """A queue entry as a preview line (the practice by name, the reasons joined)."""
    practice = practices.get(entry.practice_slug)
    hold = held.get(entry.task_id)
    if hold is not None:
        return QueueLine(
            task_id=entry.task_id,
            practice_name=practice.name if practice else entry.practice_slug,
            kind=kind_label(entry.kind), why=" · ".join(entry.why),
            sla=countdown(entry.sla_deadline, now), callable_now=False,
            when=f"held for a better hour: {hold.opens_local} in {hold.zone_name}, "
                 f"{hold.opens_in}")
    return QueueLine(
        task_id=entry.task_id,
        practice_name=practice.name if practice else entry.practice_slug,
        kind=kind_label(entry.kind),
        why=" · ".join(entry.why),
        sla=countdown(entry.sla_deadline, now),
        callable_now=entry.callable_now,
        when=_when(entry, practice.timezone if practice else "UTC", now),
    )


def _open_in_scope(user: CurrentUser) -> Any:
    """Open tasks (not held, not closed) the user may work (the queue's own scope, the same
    `work_scope` `list_queue` ranks in), as a count query."""
    scope = user.work_scope
    query = select(func.count()).select_from(Task).where(Task.status == TaskStatus.open)
    if not scope.agency_wide:
        query = query.where(col(Task.practice_slug).in_(sorted(scope.practice_slugs)))
    return query


def queue_preview(*, session: Session, user: CurrentUser, now: datetime) -> QueuePreview:
    """The next callable task with why it is first, the next tasks in priority order, and counts.

    Reads only task facts (practice, kind, value, deadlines), never a person's details, so
    it is not a patient-data view; the card shown after claiming is (and is audited).
    """
    require_role(user, WORKER_ROLES)
    entries = list_queue(session=session, user=user, now=now,
                         limit=PREVIEW_READ)
    slugs = {e.practice_slug for e in entries}
    practices = {p.practice_slug: p for p in session.exec(
        select(PracticeSettings).where(col(PracticeSettings.practice_slug).in_(sorted(slugs))))}
    awake = open_zones(session, now)
    callable_tasks = _open_in_scope(user).where(
        *workable(now, escalated=user.sees_escalated, callable_only=True))
    held, held_lines = _held(session, callable_tasks, awake, entries, now)
    lines = [_line(e, practices, now, held_lines) for e in entries]
    # Callable but for the hour: the queue's own rule, in zones where calling is closed now.
    waiting = callable_tasks.where(col(Task.practice_tz).not_in(awake))
    by_zone = session.execute(
        waiting.with_only_columns(col(Task.practice_tz), func.count())
        .group_by(col(Task.practice_tz))
    ).tuples().all()
    openings = sorted(
        (Opening(zone_name=zone_name(tz), opens_at=opens_at(now, tz),
                 opens_local=f"{local(opens_at(now, tz), tz):%H:%M}",
                 opens_in=until(opens_at(now, tz) - now), tasks=int(count))
         for tz, count in by_zone if count),
        key=lambda opening: (opening.opens_at, opening.zone_name),
    )
    ready = [line for line in lines if line.callable_now]
    return QueuePreview(
        next_up=ready[0] if ready else None,
        lines=lines[:PREVIEW_ROWS],
        ahead=ready[1:PREVIEW_ROWS + 1],
        waiting=[line for line in lines if not line.callable_now][:WAITING_ROWS],
        open_tasks=int(session.exec(_open_in_scope(user)).one()),
        waiting_for_hours=sum(opening.tasks for opening in openings),
        openings=openings,
        held=held,
    )


def _held(session: Session, callable_tasks: Any, awake: list[str], entries: list[QueueEntry],
          now: datetime) -> tuple[list[HeldOpening], dict[int, HeldOpening]]:
    """Calls held for a better hour (the ranking's rule: learned.held_zones of the open zones,
    ranking.held_calls of their tasks), counted by zone, and which of `entries` are held."""
    if not awake:
        return [], {}
    hours = hour_factors(session)
    zones = held_zones(hours, awake, now)
    if not zones:
        return [], {}
    holding = callable_tasks.where(col(Task.practice_tz).in_(zones)).where(held_calls(now))
    by_zone = session.execute(
        holding.with_only_columns(col(Task.practice_tz), func.count())
        .group_by(col(Task.practice_tz))
    ).tuples().all()
    found: dict[str, HeldOpening] = {}
    for tz, count in by_zone:
        at = hours.better_hour("patient", tz, now)
        if count and at is not None:
            found[tz] = HeldOpening(zone_name=zone_name(tz), opens_at=at,
                                    opens_local=f"{local(at, tz):%H:%M}",
                                    opens_in=until(at - now), tasks=int(count))
    ids = [e.task_id for e in entries if e.callable_now]
    marked: dict[int, HeldOpening] = {}
    if ids and found:
        rows = session.execute(
            holding.with_only_columns(col(Task.task_id), col(Task.practice_tz))
            .where(col(Task.task_id).in_(ids))
        ).tuples().all()
        marked = {int(task_id): found[tz] for task_id, tz in rows if tz in found}
    held = sorted(found.values(), key=lambda opening: (opening.opens_at, opening.zone_name))
    return held, marked


def time_practices(*, session: Session, user: CurrentUser) -> dict[str, str]:
    """The practices the user may log time for (slug → name), by name."""
    query = select(PracticeSettings).order_by(col(PracticeSettings.name))
    if not user.scope.agency_wide:
        query = query.where(col(PracticeSettings.practice_slug).in_(
            sorted(user.scope.practice_slugs)))
    return {p.practice_slug: p.name for p in session.exec(query)}


def log_other_work(*, session: Session, user: CurrentUser, practice_slug: str, minutes: float,
                   note: str | None, now: datetime) -> Touch:
    """Log minutes of non-call work for a practice (an audited admin touch)."""
    return log_time(session=session, user=user, practice_slug=practice_slug, minutes=minutes,
                    note=note, now=now)

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
from console.views.data import countdown
from console.work.claims import QueueEntry, list_queue
from console.work.ranking import open_zones, workable
from console.work.time_entries import log_time
from loopdesk_core.business_hours import local

PREVIEW_READ = 50
PREVIEW_ROWS = 10


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
class QueuePreview:
    """What My queue shows before a task is taken: the next call, the queue ahead, counts."""

    next_up: QueueLine | None
    lines: list[QueueLine]
    open_tasks: int
    waiting_for_hours: int
    # Waiting tasks by when their calling hours open, soonest first.
    openings: list[Opening] = field(default_factory=list)

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


def _line(entry: QueueEntry, practices: dict[str, PracticeSettings], now: datetime) -> QueueLine:
    """A queue entry as a preview line (the practice by name, the reasons joined)."""
    practice = practices.get(entry.practice_slug)
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
    lines = [_line(e, practices, now) for e in entries]
    awake = open_zones(session, now)
    # Callable but for the hour: the queue's own rule, in zones where calling is closed now.
    waiting = (
        _open_in_scope(user)
        .where(*workable(now, escalated=user.sees_escalated, callable_only=True))
        .where(col(Task.practice_tz).not_in(awake))
    )
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
    return QueuePreview(
        next_up=next((line for line in lines if line.callable_now), None),
        lines=lines[:PREVIEW_ROWS],
        open_tasks=int(session.exec(_open_in_scope(user)).one()),
        waiting_for_hours=sum(opening.tasks for opening in openings),
        openings=openings,
    )


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

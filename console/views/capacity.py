"""Capacity for today's decision: does this week's backlog fit the coordinator time left?

Read live from the operational store (touches, tasks, users), so it answers on a Tuesday
morning with what happened up to now, not as of the last build:
- per practice, hours delivered this week against the contract *pro-rated* to the working
  days elapsed (Mon-Fri, today counted by the share of its business hours gone by, in the
  practice's zone), and the full contract;
- coordinators active today (active accounts with a weekly schedule) and the hours they
  have left this week and today (their weekly hours minus the time they logged);
- the backlog in hours by task kind (open work due by the end of the week, each task's
  expected minutes), and one sentence saying whether it fits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from console.identity import audit
from console.identity.access import ADMIN_ROLES, CurrentUser, require_role
from console.identity.audit import Action, Outcome
from console.models.identity import Role, User
from console.models.practice import PracticeSettings
from console.models.work import Task, TaskStatus, Touch
from console.platform.errors import UserError
from console.platform.wording import kind_label
from console.work.other_work import PracticeWeek, elapsed_share, practice_weeks, week_monday

__all__ = ["CapacityToday", "CoordinatorDay", "PracticeWeek", "capacity_today", "chart_rows",
           "coordinators_for_schedule", "elapsed_share", "set_weekly_hours"]

DEFAULT_WEEKLY_HOURS = 40.0
WORK_DAYS = 5
MAX_WEEKLY_HOURS = 80.0


@dataclass(frozen=True)
class CoordinatorDay:
    """One coordinator's time this week."""

    user_id: int
    email: str
    weekly_hours: float
    logged_week_hours: float
    logged_today_hours: float

    @property
    def left_week_hours(self) -> float:
        """Scheduled hours not yet logged this week."""
        return max(0.0, self.weekly_hours - self.logged_week_hours)

    @property
    def left_today_hours(self) -> float:
        """Today's share of the schedule not yet logged today."""
        return max(0.0, self.weekly_hours / WORK_DAYS - self.logged_today_hours)


@dataclass(frozen=True)
class CapacityToday:
    """Everything the Capacity page shows."""

    week_start: str
    practices: list[PracticeWeek]
    coordinators: list[CoordinatorDay]
    backlog_by_kind: dict[str, float]

    @property
    def backlog_hours(self) -> float:
        """All backlog hours."""
        return sum(self.backlog_by_kind.values())

    @property
    def hours_left(self) -> float:
        """Coordinator hours left this week."""
        return sum(c.left_week_hours for c in self.coordinators)

    @property
    def sentence(self) -> str:
        """ "This week's backlog fits: 41 h of work, 63 h of coordinator time left." """
        work, left = round(self.backlog_hours), round(self.hours_left)
        if self.backlog_hours <= self.hours_left:
            return (f"This week's backlog fits: {work} h of work, {left} h of coordinator "
                    "time left.")
        return (f"This week's backlog does not fit: {work} h of work, {left} h of coordinator "
                f"time left ({round(self.backlog_hours - self.hours_left)} h short).")


def capacity_today(*, session: Session, user: CurrentUser, now: datetime) -> CapacityToday:
    """This week's capacity as of now (manager view)."""
    require_role(user, ADMIN_ROLES)
    monday = week_monday(now)
    practices = [p for p in session.exec(select(PracticeSettings).order_by(
        col(PracticeSettings.name))) if user.scope.allows(p.practice_slug) and p.active]
    weeks = practice_weeks(session, practices, now)
    coordinators = _coordinators(session, now, monday)
    end_of_week = monday + timedelta(days=7)
    slugs = [p.practice_slug for p in practices]
    backlog = dict(session.execute(
        select(Task.kind, func.sum(Task.expected_minutes))
        .where(col(Task.status).in_((TaskStatus.open, TaskStatus.claimed)))
        .where(col(Task.due_at) < end_of_week)
        .where(col(Task.practice_slug).in_(slugs))
        .where(col(Task.consent_call).is_(True)).where(col(Task.do_not_contact).is_(False))
        .group_by(col(Task.kind))).all())
    return CapacityToday(
        week_start=f"{monday:%b %d}", practices=weeks, coordinators=coordinators,
        backlog_by_kind={kind_label(k): float(v or 0.0) / 60 for k, v in
                         sorted(backlog.items())})


def _coordinators(session: Session, now: datetime, monday: datetime) -> list[CoordinatorDay]:
    people = session.exec(select(User).where(User.role == Role.coordinator.value)
                          .where(col(User.active).is_(True)).order_by(col(User.email))).all()
    today = datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)
    week = dict(session.execute(
        select(Touch.coordinator_id, func.sum(Touch.minutes))
        .where(col(Touch.ended_at) >= monday).where(col(Touch.ended_at) <= now)
        .group_by(col(Touch.coordinator_id))).all())
    day = dict(session.execute(
        select(Touch.coordinator_id, func.sum(Touch.minutes))
        .where(col(Touch.ended_at) >= today).where(col(Touch.ended_at) <= now)
        .group_by(col(Touch.coordinator_id))).all())
    out = []
    for person in people:
        hours = DEFAULT_WEEKLY_HOURS if person.weekly_hours is None else person.weekly_hours
        if hours <= 0:
            continue  # not scheduled this week
        out.append(CoordinatorDay(
            user_id=person.user_id or 0, email=person.email, weekly_hours=hours,
            logged_week_hours=float(week.get(person.user_id) or 0.0) / 60,
            logged_today_hours=float(day.get(person.user_id) or 0.0) / 60))
    return out


def set_weekly_hours(*, session: Session, user: CurrentUser, coordinator_id: int,
                     hours: float, now: datetime) -> None:
    """A manager sets a coordinator's weekly schedule (0 = not working this week); audited."""
    require_role(user, ADMIN_ROLES)
    if not 0 <= hours <= MAX_WEEKLY_HOURS:
        raise UserError(f"weekly hours must be between 0 and {MAX_WEEKLY_HOURS:g}")
    person = session.get(User, coordinator_id)
    if person is None or person.role != Role.coordinator.value:
        raise UserError("no such coordinator")
    person.weekly_hours = float(hours)
    session.add(person)
    audit.record(session=session, actor=user.actor, action=Action.schedule_change,
                 practice_slug=None, object_ref=f"user:{coordinator_id}",
                 outcome=Outcome.success, now=now)
    session.commit()


def chart_rows(view: CapacityToday) -> list[dict[str, Any]]:
    """Rows for the one compact chart: practices as rows, delivered vs pro-rated contract."""
    return [{"practice": w.name, "delivered": round(w.delivered_hours, 1),
             "pro-rated contract": round(w.prorated_contract_hours, 1),
             "contract": w.contract_hours} for w in view.practices]



def coordinators_for_schedule(*, session: Session, user: CurrentUser) -> dict[int, str]:
    """Active coordinators a manager may schedule (id → email)."""
    require_role(user, ADMIN_ROLES)
    return {u.user_id or 0: u.email for u in session.exec(
        select(User).where(User.role == Role.coordinator.value)
        .where(col(User.active).is_(True)).order_by(col(User.email)))}

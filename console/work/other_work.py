"""Where an idle coordinator's time is owed: the practices' hours this week.

DOMAIN.md: hours delivered are "coordinator minutes logged for the practice / 60" — calls and
the non-call referral work recorded with "Log other work" (`time_entries.log_time`, admin
touches) alike. A practice's contract is pro-rated to the working week gone by (Mon-Fri
business hours in the practice's zone). The Capacity page (console/views/capacity.py) shows
every practice's week this way; `most_behind` names the one in a coordinator's scope that is
furthest behind, which My queue suggests when nothing is callable (and the simulated
coordinators follow, docs/simulation.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from console.identity.access import CurrentUser
from console.models.practice import PracticeSettings
from console.models.work import Touch
from loopdesk_core.business_hours import working_week_share


@dataclass(frozen=True)
class PracticeWeek:
    """One practice's week so far."""

    name: str
    delivered_hours: float
    prorated_contract_hours: float
    contract_hours: float
    practice_slug: str = ""

    @property
    def behind_hours(self) -> float:
        """Hours short of the pro-rated contract (negative when ahead)."""
        return self.prorated_contract_hours - self.delivered_hours


def week_monday(now: datetime) -> datetime:
    """Monday 00:00 of this ISO week, in `now`'s zone (UTC in the console)."""
    day = now.date() - timedelta(days=now.weekday())
    return datetime.combine(day, time(0), tzinfo=now.tzinfo)


def elapsed_share(practice: PracticeSettings, now: datetime) -> float:
    """The share of this working week (Mon-Fri business hours, practice time) gone by."""
    return working_week_share(now, practice.timezone, practice.business_hours_start,
                              practice.business_hours_end)


def practice_weeks(session: Session, practices: list[PracticeSettings],
                   now: datetime) -> list[PracticeWeek]:
    """These practices' weeks so far, in their order: hours delivered since Monday (every
    minute a coordinator logged for the practice: calls and admin touches) against the
    contract pro-rated to the working week gone by. One query for all of them."""
    if not practices:
        return []
    monday = week_monday(now)
    delivered = dict(session.execute(
        select(Touch.practice_slug, func.sum(Touch.minutes))
        .where(col(Touch.ended_at) >= monday).where(col(Touch.ended_at) <= now)
        .where(col(Touch.coordinator_id).is_not(None))
        .where(col(Touch.practice_slug).in_(sorted({p.practice_slug for p in practices})))
        .group_by(col(Touch.practice_slug))).all())
    return [PracticeWeek(
        name=p.name, delivered_hours=float(delivered.get(p.practice_slug) or 0.0) / 60,
        prorated_contract_hours=p.contracted_hours_per_week * elapsed_share(p, now),
        contract_hours=p.contracted_hours_per_week, practice_slug=p.practice_slug)
        for p in practices]


@dataclass(frozen=True)
class OwedTime:
    """Where an idle coordinator's time is owed this week: the practice furthest behind its
    pro-rated contract and by how much or, when none is behind, the one with the largest
    share of its week's contract still to deliver (`ahead`: the coordinator works ahead)."""

    practice_slug: str
    practice_name: str
    behind_hours: float  # short of the pro-rated contract (≤ 0 when working ahead)
    left_hours: float = 0.0  # of the whole week's contract still to deliver

    @property
    def ahead(self) -> bool:
        """No practice is behind: this one is the furthest from its whole week's contract."""
        return self.behind_hours <= 0

    @property
    def sentence(self) -> str:
        """ "Lakeshore Dental is 4.2 h behind its contracted hours this week", or when no
        practice is behind, "Lakeshore Dental has 6.0 h of its contracted hours left this
        week" """
        if self.ahead:
            return (f"{self.practice_name} has {self.left_hours:.1f} h of its contracted "
                    "hours left this week")
        return (f"{self.practice_name} is {self.behind_hours:.1f} h behind its contracted "
                "hours this week")


def scope_practices(session: Session, user: CurrentUser) -> list[PracticeSettings]:
    """The active practices the user may log time for (their scope), by name."""
    query = select(PracticeSettings).where(col(PracticeSettings.active).is_(True)) \
        .order_by(col(PracticeSettings.name), col(PracticeSettings.practice_slug))
    if not user.scope.agency_wide:
        if not user.scope.practice_slugs:
            return []
        query = query.where(col(PracticeSettings.practice_slug).in_(
            sorted(user.scope.practice_slugs)))
    return list(session.exec(query))


def most_behind(*, session: Session, user: CurrentUser, now: datetime,
                practices: list[PracticeSettings] | None = None) -> OwedTime | None:
    """The practice in the user's scope furthest behind its pro-rated contracted hours this
    week (the largest share of the hours due so far not delivered; ties by name) with how
    many hours it is short. When none is behind, the one with the largest share of its whole
    week's contract still to deliver (working ahead: the contract is weekly, and the share
    due lags the team's day where a practice's business hours run later — a team that idled
    whenever every practice was on pace ended the week with the western practices short,
    docs/benchmarks.md, brief hours2). None when every practice's week is delivered.

    `practices` (the user's `scope_practices`, read once) saves that read to a caller that
    asks again and again (the simulator); anything outside the scope is ignored.
    """
    inside = [p for p in (scope_practices(session, user) if practices is None else practices)
              if p.active and user.scope.allows(p.practice_slug)]
    weeks = practice_weeks(session, inside, now)
    behind = [w for w in weeks if w.behind_hours > 0]
    if behind:
        # Furthest behind as a share of what is due: the contract is a promise per practice,
        # and "most hours short" would starve the small contracts (docs/benchmarks.md, brief
        # hours).
        worst = min(behind, key=lambda w: (-w.behind_hours / w.prorated_contract_hours,
                                           w.name, w.practice_slug))
    else:
        left = [w for w in weeks if w.contract_hours > w.delivered_hours]
        if not left:
            return None
        worst = min(left, key=lambda w: (w.delivered_hours / w.contract_hours, w.name,
                                         w.practice_slug))
    return OwedTime(practice_slug=worst.practice_slug, practice_name=worst.name,
                    behind_hours=worst.behind_hours,
                    left_hours=worst.contract_hours - worst.delivered_hours)

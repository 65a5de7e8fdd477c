"""Business-day arithmetic in a practice's own time zone and opening days (DST-correct)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

# DOMAIN.md's defaults, configurable per practice (PracticeSettings): open Monday to Friday; a new
# lead is first contacted within 1 business day, a referrer told the outcome within 2.
DEFAULT_BUSINESS_DAYS = "12345"  # ISO weekdays, 1 = Monday
DEFAULT_LEAD_SLA_BUSINESS_DAYS = 1
DEFAULT_CLOSE_LOOP_SLA_BUSINESS_DAYS = 2


class PracticeHours(Protocol):
    """What business-hours arithmetic needs to know about a practice (PracticeSettings has it)."""

    timezone: str
    business_days: str
    business_hours_start: str
    business_hours_end: str


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The IANA zone (cached: zones are immutable, not user data)."""
    return ZoneInfo(name)


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _is_open_day(day: date, practice: PracticeHours) -> bool:
    return str(day.isoweekday()) in practice.business_days


@lru_cache(maxsize=256)
def _days_to_open_day(business_days: str, count: int) -> tuple[int, ...]:
    open_days = {int(day) for day in business_days if day.isdigit()} & set(range(1, 8))
    if not open_days:
        raise ValueError(f"practice has no business days: {business_days!r}")
    table: list[int] = []
    for weekday in range(1, 8):
        ahead, seen = 0, 0
        while seen < count:
            ahead += 1
            seen += ((weekday - 1 + ahead) % 7) + 1 in open_days
        table.append(ahead)
    return tuple(table)


def days_to_open_day(business_days: str, count: int) -> dict[int, int]:
    """Per ISO weekday, the calendar days to the `count`-th open day after it (count >= 1).

    The one definition of "n business days later" (DOMAIN.md): `add_business_days` here, the demo
    history's vectorised twin (`console.demo.hours`) and the warehouse build (the per-practice
    `build_sla_days` table `mart_metric_leads` reads) all count open days with this table.
    """
    return dict(zip(range(1, 8), _days_to_open_day(business_days, count), strict=True))


def _at(day: date, wall: time, practice: PracticeHours) -> datetime:
    # Wall-clock time on that date in the practice zone; zoneinfo resolves the DST offset.
    return datetime.combine(day, wall, tzinfo=zone(practice.timezone))


def local(at: datetime, timezone: str) -> datetime:
    """The instant `at` as wall-clock time in `timezone`."""
    return at.astimezone(zone(timezone))


def next_business_moment(at: datetime, practice: PracticeHours) -> datetime:
    """`at` if the practice is open then, else its next opening (UTC)."""
    opens, closes = _clock(practice.business_hours_start), _clock(practice.business_hours_end)
    here = local(at, practice.timezone)
    day = here.date()
    if _is_open_day(day, practice) and opens <= here.time() < closes:
        return at.astimezone(UTC)
    if _is_open_day(day, practice) and here.time() < opens:
        return _at(day, opens, practice).astimezone(UTC)
    ahead = days_to_open_day(practice.business_days, 1)[day.isoweekday()]
    return _at(day + timedelta(days=ahead), opens, practice).astimezone(UTC)


def add_business_days(start: datetime, days: int, practice: PracticeHours) -> datetime:
    """The same wall-clock time `days` business days after `start` (rolled into opening hours).

    A start outside business hours counts from the next opening, so a lead referred on
    Friday evening with a 1-business-day SLA is due Tuesday at opening time.
    """
    begin = local(next_business_moment(start, practice), practice.timezone)
    day = begin.date()
    if days > 0:
        day += timedelta(days=days_to_open_day(practice.business_days, days)[day.isoweekday()])
    return _at(day, begin.time().replace(tzinfo=None), practice).astimezone(UTC)


def local_day_start(at: datetime, timezone: str) -> datetime:
    """Midnight of `at`'s local calendar day in `timezone`, as UTC."""
    here = local(at, timezone)
    return datetime.combine(here.date(), time(0), tzinfo=zone(timezone)).astimezone(UTC)


def iso_week_start(at: datetime) -> datetime:
    """Monday 00:00 UTC of `at`'s ISO week (the agency's fair-share week)."""
    utc = at.astimezone(UTC)
    monday = utc.date() - timedelta(days=utc.weekday())
    return datetime.combine(monday, time(0), tzinfo=UTC)


WORK_DAYS = 5  # a contract's week: Monday to Friday


def working_week_share(now: datetime, timezone: str, opens_at: str, closes_at: str) -> float:
    """The share of this working week (Mon-Fri business hours, practice time) gone by at `now`:
    what a weekly contract is pro-rated by (Capacity, My queue's idle suggestion and the
    queue's fair share all use it)."""
    here = local(now, timezone)
    start, end = _clock(opens_at), _clock(closes_at)
    weekday = here.weekday()
    if weekday >= WORK_DAYS:
        return 1.0
    opens = here.replace(hour=start.hour, minute=start.minute, second=0, microsecond=0)
    closes = here.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    span = (closes - opens).total_seconds()
    today = 0.0 if span <= 0 else min(1.0, max(0.0, (here - opens).total_seconds() / span))
    return (weekday + today) / WORK_DAYS

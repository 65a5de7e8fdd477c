"""The domain facts the warehouse and the console both need, stated once (DOMAIN.md).

The build passes them to the SQL as build parameters (`warehouse.runner.BuildParams` → the
one-row `build_params` table, and `build_sla_days`); the console's task sources, queue priority,
reports and CLI read the same constants. Business-day arithmetic itself lives in
`loopdesk_core.business_hours` (`days_to_open_day`), which every package may import; the
per-practice table the build needs is made from it here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from loopdesk_core.business_hours import (
    DEFAULT_BUSINESS_DAYS,
    DEFAULT_CLOSE_LOOP_SLA_BUSINESS_DAYS,
    DEFAULT_LEAD_SLA_BUSINESS_DAYS,
    days_to_open_day,
)

# Task triggers (DOMAIN.md "Task kinds"): an `ask` while results became visible at most
# ASK_WINDOW_DAYS ago, not asked in the last 180 d, not declined in the last 365 d; a
# `review_request` likewise within its window and with none in the last 180 d.
ASK_WINDOW_DAYS = 30
ASK_COOLDOWN_DAYS = 180
DECLINE_COOLDOWN_DAYS = 365
REVIEW_WINDOW_DAYS = 30
REVIEW_COOLDOWN_DAYS = 180

# Metric windows (DOMAIN.md "Metrics"), measured from the moment results became visible (asks,
# referrals) or the lead was referred (conversion).
ASK_RATE_WINDOW_DAYS = 30
REFERRAL_WINDOW_DAYS = 180
CONVERSION_WINDOW_DAYS = 90

# Benchmarks (DOMAIN.md "Metrics"): 83 % of satisfied patients would refer, 29 % typically do.
WILLINGNESS_BENCHMARK = 0.83
REFERRAL_RATE_PASSIVE = 0.10
REFERRAL_RATE_TYPICAL = 0.29
REFERRAL_RATE_SYSTEMATIC = 0.40
INTENT_ACTION_GAP_PTS = round(100 * (WILLINGNESS_BENCHMARK - REFERRAL_RATE_TYPICAL), 1)  # 54

# P(refer | asked) of a practice with no asks yet: DOMAIN.md's typical referral rate (the prior
# of mart_practice_rates and of the queue's priority).
DEFAULT_P_REFER_GIVEN_ASKED = REFERRAL_RATE_TYPICAL


@dataclass(frozen=True)
class PracticeCalendar:
    """What the build needs of a practice's calendar: open ISO weekdays and SLA lengths."""

    business_days: str = DEFAULT_BUSINESS_DAYS
    lead_sla_business_days: int = DEFAULT_LEAD_SLA_BUSINESS_DAYS
    close_loop_sla_business_days: int = DEFAULT_CLOSE_LOOP_SLA_BUSINESS_DAYS


def sla_day_rows(
    calendars: Mapping[str, PracticeCalendar],
) -> list[tuple[str | None, int, int, int]]:
    """`build_sla_days` rows: per practice and ISO weekday, calendar days to its SLA deadlines.

    Each row is (practice_slug, iso_weekday, contact_days, loop_days): a lead referred on a day
    of that weekday is due its first contact `contact_days` later, a known outcome is due its
    loop closure `loop_days` later (same wall-clock time, open days only). The rows with a null
    practice_slug are the DOMAIN.md default calendar, for practices without settings of their own.
    """
    rows: list[tuple[str | None, int, int, int]] = []
    named: list[tuple[str | None, PracticeCalendar]] = [(None, PracticeCalendar())]
    named += sorted(calendars.items())
    for slug, calendar in named:
        contact = days_to_open_day(calendar.business_days, calendar.lead_sla_business_days)
        loop = days_to_open_day(calendar.business_days, calendar.close_loop_sla_business_days)
        rows += [(slug, weekday, contact[weekday], loop[weekday]) for weekday in range(1, 8)]
    return rows


def percent(rate: float) -> str:
    """A benchmark as people read it: 0.83 → "83%"."""
    return f"{rate:.0%}"

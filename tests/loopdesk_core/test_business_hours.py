"""Business-day arithmetic in the practice's zone, across weekends and DST changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from console.models.practice import PracticeSettings
from loopdesk_core.business_hours import add_business_days, days_to_open_day, next_business_moment


def _ny(**fields: object) -> PracticeSettings:
    return PracticeSettings(practice_slug="p", name="P", specialty="dental",
                            timezone="America/New_York", **fields)  # type: ignore[arg-type]


def test_one_business_day_skips_the_weekend() -> None:
    friday_10_local = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    assert add_business_days(friday_10_local, 1, _ny()) == datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_business_day_keeps_wall_clock_across_dst_end() -> None:
    # Friday 30 Oct 2026 10:00 EDT (14:00Z); DST ends Sunday 1 Nov; Monday 10:00 EST is 15:00Z.
    friday = datetime(2026, 10, 30, 14, 0, tzinfo=UTC)
    assert add_business_days(friday, 1, _ny()) == datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def test_business_day_keeps_wall_clock_across_dst_start() -> None:
    # Friday 6 Mar 2026 10:00 EST (15:00Z); DST starts 8 Mar; Monday 10:00 EDT is 14:00Z.
    friday = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
    assert add_business_days(friday, 1, _ny()) == datetime(2026, 3, 9, 14, 0, tzinfo=UTC)


def test_after_hours_start_counts_from_next_opening() -> None:
    friday_evening = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)  # 18:30 local
    assert next_business_moment(friday_evening, _ny()) == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    # Monday 09:00 opening + 1 business day = Tuesday 09:00 local.
    assert add_business_days(friday_evening, 1, _ny()) == datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


def test_early_morning_rolls_to_opening_same_day() -> None:
    tuesday_6_local = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
    assert next_business_moment(tuesday_6_local, _ny()) == datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


def test_custom_business_days_are_respected() -> None:
    # A practice open Tuesday to Saturday: Saturday + 1 business day is Tuesday.
    saturday = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
    practice = _ny(business_days="23456")
    assert add_business_days(saturday, 1, practice) == datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def test_days_to_open_day_counts_only_the_practice_open_days() -> None:
    """Calendar days from each ISO weekday to the n-th following open day."""
    assert days_to_open_day("12345", 1) == {1: 1, 2: 1, 3: 1, 4: 1, 5: 3, 6: 2, 7: 1}
    assert days_to_open_day("12345", 2) == {1: 2, 2: 2, 3: 2, 4: 4, 5: 4, 6: 3, 7: 2}
    assert days_to_open_day("23456", 1) == {1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 3, 7: 2}


def test_days_to_open_day_refuses_a_calendar_without_open_days() -> None:
    """No weekday 1-7 open (empty, or only nonsense digits) is an error, never an endless count."""
    for business_days in ("", "089"):
        with pytest.raises(ValueError, match="no business days"):
            days_to_open_day(business_days, 1)

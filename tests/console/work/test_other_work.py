"""Where an idle coordinator's time is owed: the practice most behind its pro-rated hours."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlmodel import Session

from console.identity.access import CurrentUser, current_user
from console.models.identity import Role, User
from console.models.work import Touch
from console.scoring.priority import fair_share
from console.work import ranking
from console.work.other_work import elapsed_share, most_behind, practice_weeks, scope_practices
from console.work.time_entries import log_time
from tests.factories import NOW, add_practice, add_user, session_for, sqlite_engine

# NOW is Thursday 15:00 UTC: 10:00 in New York (open 09:00-17:00: 3 1/8 days of 5 gone by,
# 0.625 of the week), 08:00 in Phoenix (not open yet today: 3 days, 0.6).
MONDAY = datetime(2026, 11, 23, 0, 0, tzinfo=NOW.tzinfo)


def _acting(session: Session, user: User) -> CurrentUser:
    acting = current_user(session=session, user_id=user.user_id or 0)
    assert acting is not None
    return acting


def _call(session: Session, slug: str, minutes: float, ended: datetime,
          coordinator_id: int | None) -> None:
    session.add(Touch(practice_slug=slug, subject_type="patient", subject_id="p1",
                      coordinator_id=coordinator_id, channel="call", minutes=minutes,
                      started_at=ended - timedelta(minutes=minutes), ended_at=ended))
    session.commit()


@pytest.fixture
def db(loopdesk_home: Path) -> Session:
    """smile-ny (NY, 10 h a week: 6.25 h due by NOW), glow-az (Phoenix, 20 h: 12 h due by
    NOW), far-tx (Chicago, 40 h, nobody's but the manager's) and an inactive practice."""
    session = session_for(sqlite_engine(loopdesk_home))
    add_practice(session, "smile-ny", contracted_hours=10.0)
    add_practice(session, "glow-az", timezone="America/Phoenix", contracted_hours=20.0)
    add_practice(session, "far-tx", timezone="America/Chicago", contracted_hours=40.0)
    add_practice(session, "old-ca", timezone="America/Los_Angeles", contracted_hours=80.0,
                 active=False)
    return session


def test_names_the_practice_most_behind_counting_calls_and_other_work(db: Session) -> None:
    user = _acting(db, add_user(db, practices=["smile-ny", "glow-az", "old-ca"]))
    # smile-ny: a 4 h call and 60 min of other work this week = 5 h of 6.25 h: 1.25 h behind.
    _call(db, "smile-ny", 240, NOW - timedelta(hours=2), user.user_id)
    log_time(session=db, user=user, practice_slug="smile-ny", minutes=60, note=None,
             now=NOW - timedelta(hours=1))
    # glow-az: 4 h of other work this week = 4 h of 12 h: 8 h behind; what does not count:
    # last week's minutes, automation's touches (no coordinator), minutes after NOW.
    log_time(session=db, user=user, practice_slug="glow-az", minutes=240, note=None, now=NOW)
    _call(db, "glow-az", 480, MONDAY - timedelta(hours=1), user.user_id)
    _call(db, "glow-az", 480, NOW - timedelta(hours=3), None)
    _call(db, "glow-az", 480, NOW + timedelta(hours=3), user.user_id)
    owed = most_behind(session=db, user=user, now=NOW)
    assert owed is not None
    assert (owed.practice_slug, owed.practice_name) == ("glow-az", "Glow-Az")
    assert owed.behind_hours == pytest.approx(8.0)
    assert owed.sentence == "Glow-Az is 8.0 h behind its contracted hours this week"
    weeks = {w.practice_slug: w for w in practice_weeks(
        db, scope_practices(db, user), NOW)}
    assert set(weeks) == {"smile-ny", "glow-az"}  # the inactive practice is not listed
    assert weeks["smile-ny"].delivered_hours == pytest.approx(5.0)
    assert weeks["smile-ny"].prorated_contract_hours == pytest.approx(6.25)
    assert weeks["smile-ny"].behind_hours == pytest.approx(1.25)


def test_with_every_practice_on_pace_the_time_goes_ahead_to_the_week_least_delivered(
        db: Session) -> None:
    """No practice is behind its pro-rated hours: the idle time still goes to a practice —
    the one with the largest share of its whole week's contract left (smile-ny: 6.25 h of
    10 h, 37.5 % left; glow-az has more hours left, 7 h of 20 h, but a smaller share) — and
    to none once every practice's week is delivered. (Before, nobody was named and the time
    was lost: the share due lags the team's day where business hours run later, so the
    western practices ended the week short; docs/benchmarks.md, brief hours2.)"""
    user = _acting(db, add_user(db, practices=["smile-ny", "glow-az"]))
    _call(db, "smile-ny", 6.25 * 60, NOW, user.user_id)  # exactly on time is not behind
    log_time(session=db, user=user, practice_slug="glow-az", minutes=480, note=None, now=NOW)
    log_time(session=db, user=user, practice_slug="glow-az", minutes=300, note=None,
             now=NOW - timedelta(hours=9))
    owed = most_behind(session=db, user=user, now=NOW)
    assert owed is not None and owed.ahead
    assert owed.practice_slug == "smile-ny"
    assert owed.behind_hours == pytest.approx(0.0)
    assert owed.left_hours == pytest.approx(3.75)
    assert owed.sentence == "Smile-Ny has 3.8 h of its contracted hours left this week"
    # Once smile-ny's week is in, glow-az (7 h left) is next; then nobody.
    log_time(session=db, user=user, practice_slug="smile-ny", minutes=225, note=None, now=NOW)
    owed = most_behind(session=db, user=user, now=NOW)
    assert owed is not None and owed.practice_slug == "glow-az" and owed.ahead
    assert owed.left_hours == pytest.approx(7.0)
    log_time(session=db, user=user, practice_slug="glow-az", minutes=420, note=None, now=NOW)
    assert most_behind(session=db, user=user, now=NOW) is None


def test_never_a_practice_outside_the_scope(db: Session) -> None:
    mine = _acting(db, add_user(db, practices=["smile-ny"]))
    manager = _acting(db, add_user(db, role=Role.manager))
    # far-tx is 24 h behind and glow-az 12 h, but the coordinator works smile-ny only.
    owed = most_behind(session=db, user=mine, now=NOW)
    assert owed is not None and owed.practice_slug == "smile-ny"
    assert owed.behind_hours == pytest.approx(6.25)
    # A list read elsewhere cannot widen it: practices outside the scope are ignored.
    everything = scope_practices(db, manager)
    assert {p.practice_slug for p in everything} == {"smile-ny", "glow-az", "far-tx"}
    again = most_behind(session=db, user=mine, now=NOW, practices=everything)
    assert again is not None and again.practice_slug == "smile-ny"
    agency = most_behind(session=db, user=manager, now=NOW)
    assert agency is not None and agency.practice_slug == "far-tx"
    assert agency.behind_hours == pytest.approx(40.0 * 3 / 5)  # 09:00 in Chicago: opening
    nobody = _acting(db, add_user(db, practices=[]))
    assert most_behind(session=db, user=nobody, now=NOW) is None


def test_one_statement_for_every_practices_hours(db: Session) -> None:
    manager = _acting(db, add_user(db, role=Role.manager))
    practices = scope_practices(db, manager)
    statements: list[str] = []

    def count(_conn: object, _cursor: object, text: str, *_: object) -> None:
        statements.append(text)

    bind = db.get_bind()
    event.listen(bind, "before_cursor_execute", count)
    try:
        most_behind(session=db, user=manager, now=NOW, practices=practices)
    finally:
        event.remove(bind, "before_cursor_execute", count)
    assert len(statements) == 1 and "touches" in statements[0]


def test_the_weekend_counts_the_whole_week_due(db: Session) -> None:
    practice = scope_practices(db, _acting(db, add_user(db, role=Role.manager)))[0]
    assert elapsed_share(practice, MONDAY + timedelta(days=5, hours=18)) == 1.0


def test_furthest_behind_is_the_largest_share_of_the_hours_due(db: Session) -> None:
    """glow-az is 6 h short of 12 h due (half), smile-ny 5 h short of 6.25 h (80 %): the
    small contract is the one furthest behind, though fewer hours short."""
    user = _acting(db, add_user(db, practices=["smile-ny", "glow-az"]))
    log_time(session=db, user=user, practice_slug="glow-az", minutes=360, note=None, now=NOW)
    log_time(session=db, user=user, practice_slug="smile-ny", minutes=75, note=None, now=NOW)
    owed = most_behind(session=db, user=user, now=NOW)
    assert owed is not None and owed.practice_slug == "smile-ny"
    assert owed.behind_hours == pytest.approx(5.0)


def test_the_queue_and_the_idle_suggestion_give_one_figure_for_a_practice_behind(
    db: Session,
) -> None:
    """The hours a queue entry shows ("practice 8 h behind its hours this week") and My
    queue's idle suggestion pro-rate the contract alike (the working week in the practice's
    zone). Before, the entry took the calendar week in UTC: 0.52 of it gone at NOW instead of
    Phoenix's 0.6, so glow-az read 6.4 h behind in the queue and 8 h in the suggestion (seen in
    the demo). The fair-share factor that ranks keeps the calendar week (docs/queue.md)."""
    user = _acting(db, add_user(db, practices=["glow-az"]))
    log_time(session=db, user=user, practice_slug="glow-az", minutes=240, note=None,
             now=NOW - timedelta(hours=1))
    owed = most_behind(session=db, user=user, now=NOW)
    assert owed is not None and owed.behind_hours == pytest.approx(8.0)
    share = ranking.shares(ranking.practice_facts(db, {"glow-az"}, NOW), NOW)["glow-az"]
    assert share.behind_hours == pytest.approx(owed.behind_hours)
    calendar = (NOW - MONDAY) / timedelta(days=7)
    assert share.factor == fair_share(logged_minutes=240, contracted_hours=20.0,
                                      week_fraction=calendar).factor

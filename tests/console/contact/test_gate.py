"""The contact gate: quiet hours across DST, consent, opt-outs and fatigue caps."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlmodel import col

from console.contact.consent import revoke_consent
from console.contact.gate import Person, check_gate, evaluate_gate
from console.models.work import Touch
from tests.factories import NOW, add_practice, session_for, sqlite_engine


def _rules(local_time: time, **overrides: object) -> bool:
    facts: dict[str, object] = {
        "consented": True, "do_not_contact": False, "local_time": local_time,
        "touches_today": 0, "touches_this_week": 0, "max_per_day": 1, "max_per_week": 3,
    } | overrides
    return evaluate_gate(**facts).ok  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("clock", "ok"),
    [(time(7, 59), False), (time(8, 0), True), (time(20, 59), True), (time(21, 0), False)],
)
def test_quiet_hours_edges(clock: time, ok: bool) -> None:
    assert _rules(clock) is ok


# New York: EDT (UTC-4) before 1 Nov 2026, EST (UTC-5) after.
@pytest.mark.parametrize(
    ("instant", "ok"),
    [
        (datetime(2026, 10, 30, 11, 59, tzinfo=UTC), False),  # 07:59 EDT
        (datetime(2026, 10, 30, 12, 0, tzinfo=UTC), True),  # 08:00 EDT
        (datetime(2026, 10, 31, 0, 59, tzinfo=UTC), True),  # 20:59 EDT
        (datetime(2026, 10, 31, 1, 0, tzinfo=UTC), False),  # 21:00 EDT
        (datetime(2026, 11, 2, 12, 59, tzinfo=UTC), False),  # 07:59 EST
        (datetime(2026, 11, 2, 13, 0, tzinfo=UTC), True),  # 08:00 EST
        (datetime(2026, 11, 3, 1, 59, tzinfo=UTC), True),  # 20:59 EST
        (datetime(2026, 11, 3, 2, 0, tzinfo=UTC), False),  # 21:00 EST
    ],
)
def test_quiet_hours_in_practice_zone_across_dst(loopdesk_home: Path, instant: datetime,
                                                 ok: bool) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        result = check_gate(session=session, practice=practice,
                            person=Person("smile-ny", "patient", "p1",
                                consented=True), channel="call", now=instant)
    assert result.ok is ok
    if not ok:
        assert result.reason is not None and "08:00-21:00" in result.reason


def test_consent_and_do_not_contact_block() -> None:
    assert not _rules(time(10), consented=False)
    assert not _rules(time(10), do_not_contact=True)


def _touch(session: object, at: datetime, subject: str = "p1") -> Touch:
    return Touch(practice_slug="smile-ny", subject_type="patient", subject_id=subject,
                 channel="call", disposition="no_answer", minutes=2, started_at=at)


def test_fatigue_one_a_day_three_a_week(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        person = Person("smile-ny", "patient", "p1", consented=True)

        def gate() -> str | None:
            return check_gate(session=session, practice=practice, person=person,
                              channel="call", now=NOW).reason

        assert gate() is None
        session.add(_touch(session, NOW - timedelta(hours=1)))
        session.commit()
        assert gate() == "already contacted today"
        session.rollback()
        # Earlier touches: yesterday and two days ago, plus none today -> 2 this week: allowed.
        session.execute(delete(Touch))
        session.add_all([_touch(session, NOW - timedelta(days=d)) for d in (1, 2)])
        session.commit()
        assert gate() is None
        session.add(_touch(session, NOW - timedelta(days=3)))
        session.commit()
        assert gate() == "weekly contact limit reached"
        # A touch to someone else does not count against p1's neighbour.
        other = check_gate(session=session, practice=practice,
                           person=Person("smile-ny", "patient", "p2",
                               consented=True), channel="call", now=NOW)
        assert other.ok


def test_practice_can_lower_the_caps_but_not_raise_them(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        strict = add_practice(session, "strict", max_touches_per_week=1)
        lax = add_practice(session, "lax", max_touches_per_day=5, max_touches_per_week=9)
        for slug in ("strict", "lax"):
            session.add(Touch(practice_slug=slug, subject_type="patient", subject_id="p1",
                              channel="sms", minutes=0, started_at=NOW - timedelta(days=2)))
            session.add(Touch(practice_slug=slug, subject_type="patient", subject_id="p1",
                              channel="sms", minutes=0, started_at=NOW - timedelta(days=3)))
            session.add(Touch(practice_slug=slug, subject_type="patient", subject_id="p1",
                              channel="sms", minutes=0, started_at=NOW - timedelta(days=4)))
        session.commit()
        for practice in (strict, lax):
            result = check_gate(session=session, practice=practice,
                                person=Person(practice.practice_slug, "patient", "p1",
                                    consented=True),
                                channel="call", now=NOW)
            assert result.reason == "weekly contact limit reached"
        session.execute(delete(Touch).where(col(Touch.practice_slug) == "strict"))
        session.add(Touch(practice_slug="strict", subject_type="patient", subject_id="p1",
                          channel="sms", minutes=0, started_at=NOW - timedelta(days=2)))
        session.commit()
        result = check_gate(session=session, practice=strict,
                            person=Person("strict", "patient", "p1",
                                consented=True), channel="call", now=NOW)
        assert result.reason == "weekly contact limit reached"


def test_replies_are_not_touches(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        session.add(Touch(practice_slug="smile-ny", subject_type="patient", subject_id="p1",
                          channel="sms", disposition="replied", minutes=0,
                          started_at=NOW - timedelta(hours=1)))
        session.commit()
        assert check_gate(session=session, practice=practice,
                          person=Person("smile-ny", "patient", "p1",
                              consented=True), channel="call",
                          now=NOW).ok


def test_revoked_consent_blocks_that_channel(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        person = Person("smile-ny", "patient", "p1", consented=True)
        revoke_consent(session=session, practice_slug="smile-ny", subject_type="patient",
                       subject_id="p1", source="inbound", now=NOW - timedelta(days=1),
                       channels=("text",))
        session.commit()
        assert check_gate(session=session, practice=practice, person=person, channel="call",
                          now=NOW).ok
        sms = check_gate(session=session, practice=practice, person=person, channel="sms",
                         now=NOW)
        assert sms.reason == "no consent for this channel"


def test_unknown_consent_is_no_consent(loopdesk_home: Path) -> None:
    """A person whose consent on the channel is not stated is refused (the conservative default)."""
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        result = check_gate(session=session, practice=practice,
                            person=Person("smile-ny", "patient", "p9"), channel="sms", now=NOW)
    assert not result.ok and result.reason == "no consent for this channel"


def test_the_gate_reads_only_each_persons_own_touches_and_consent(loopdesk_home: Path) -> None:
    """Subject ids repeat across practices: the gate's statements match the whole (practice,
    subject type, subject id) key — neither another practice's patient with the same id nor
    a lead with it is read — and the verdicts tell the people apart."""
    from console.contact import gate

    with session_for(sqlite_engine(loopdesk_home)) as session:
        ny, la = add_practice(session), add_practice(session, "smile-la",
                                                     timezone="America/Chicago")
        for slug, subject_type, subject in [("smile-ny", "patient", "p1"),
                                            ("smile-la", "patient", "p2"),
                                            ("smile-la", "lead", "p2")]:
            session.add(Touch(practice_slug=slug, subject_type=subject_type,
                              subject_id=subject, channel="call", disposition="no_answer",
                              minutes=2, started_at=NOW - timedelta(hours=1)))
            revoke_consent(session=session, practice_slug=slug, subject_type=subject_type,
                           subject_id=subject, source="inbound", now=NOW - timedelta(days=1),
                           channels=("call",))
        session.commit()
        asked = [Person("smile-ny", "patient", "p2", consented=True),
                 Person("smile-la", "patient", "p1", consented=True),
                 Person("smile-la", "patient", "p2", consented=True)]
        postgres = False
        touches = session.execute(
            gate._touch_times_statement(postgres),
            gate._people_params(asked, postgres) | {"since": NOW - timedelta(days=8),
                                                    "now": NOW}).all()
        revoked = session.execute(gate._revoked_statement(postgres),
                                  gate._people_params(asked, postgres) | {"channel": "call"}
                                  ).all()
        assert [tuple(row[:3]) for row in touches] == [("smile-la", "patient", "p2")]
        assert [tuple(row[:3]) for row in revoked] == [("smile-la", "patient", "p2")]
        verdicts = gate.check_gates(session=session, people=asked, channel="call",
                                    practices={"smile-ny": ny, "smile-la": la}, now=NOW)
        assert [verdicts[p.key].ok for p in asked] == [True, True, False]

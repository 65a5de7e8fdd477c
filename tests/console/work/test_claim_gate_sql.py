"""The call gate stated in SQL (gate.call_gate_conditions, re-checked by a claim's lease) says
what `check_gates` says, on both stores; and a claim's lease refuses a person called since
the window was ranked, in the lease statement itself."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import and_, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from console.contact.gate import (
    Person,
    call_bounds,
    call_gate_conditions,
    call_hours_ok,
    check_gates,
)
from console.models.practice import PracticeSettings
from console.models.work import ConsentEvent, Task, Touch
from console.platform.db import get_engine, init_db, new_session
from console.work import window
from console.work.claims import claim_next
from tests.console.work.test_claims_concurrency import pg_url  # noqa: F401  (fixture)
from tests.factories import NOW, add_practice, add_task, add_worker, sqlite_engine

_TASKS = Task.__table__.c  # type: ignore[attr-defined]

# (touch offsets before NOW in hours, with their dispositions; consent events (hours before
# NOW, granted)); NOW is 10:00 in New York, 15:00 in London, 02:00 next day in Sydney.
SCENARIOS: list[tuple[list[tuple[float, str | None]], list[tuple[float, bool]]]] = [
    ([], []),
    ([(1, "no_answer")], []),  # called today
    ([(1, "replied")], []),  # an inbound reply is not a touch
    ([(1, None)], []),  # an automated message today
    ([(11, "no_answer")], []),  # yesterday in New York (local midnight is 05:00 UTC)
    ([(9, "no_answer")], []),  # today in New York, 9 h ago
    ([(30, "voicemail"), (60, "no_answer")], []),  # twice this week
    ([(30, "voicemail"), (60, "no_answer"), (100, "no_answer")], []),  # three this week
    ([(30, "voicemail"), (60, "no_answer"), (200, "no_answer")], []),  # the third too old
    ([(-1, "no_answer")], []),  # a touch stamped after now does not count yet
    ([], [(5, False)]),  # revoked
    ([], [(5, False), (2, True)]),  # revoked, then granted again
    ([], [(5, True), (2, False)]),  # granted, then revoked
    ([], [(-1, False)]),  # ordering by time, not by insertion
    ([(1, "no_answer")], [(5, False)]),
]


def _populate(session: Session, practice: PracticeSettings, subject: str,
              touches: list[tuple[float, str | None]],
              consents: list[tuple[float, bool]]) -> None:
    for hours, disposition in touches:
        session.add(Touch(practice_slug=practice.practice_slug, subject_type="patient",
                          subject_id=subject, disposition=disposition,
                          channel="call" if disposition else "sms",
                          started_at=NOW - timedelta(hours=hours)))
    for hours, granted in consents:
        session.add(ConsentEvent(practice_slug=practice.practice_slug, subject_type="patient",
                                 subject_id=subject, channel="call", granted=granted,
                                 source="test", at=NOW - timedelta(hours=hours)))
    session.commit()


def _sql_verdict(session: Session, task: Task, practice: PracticeSettings,
                 now: datetime) -> bool:
    bounds = call_bounds(practice, now)
    conditions = call_gate_conditions(
        practice_slug=_TASKS.practice_slug, subject_type=_TASKS.subject_type,
        subject_id=_TASKS.subject_id, now=now, day_start=bounds.day_start,
        week_start=bounds.week_start, per_day=bounds.per_day, per_week=bounds.per_week)
    found = session.execute(select(_TASKS.task_id).where(_TASKS.task_id == task.task_id)
                            .where(and_(*conditions))).first()
    return found is not None


def _compare(engine: Engine) -> None:
    init_db(engine)
    with new_session(engine) as session:
        practices = [
            add_practice(session, "ny", timezone="America/New_York"),
            add_practice(session, "ldn", timezone="Europe/London", max_touches_per_week=2),
            add_practice(session, "syd", timezone="Australia/Sydney"),
            add_practice(session, "quiet", timezone="America/New_York", max_touches_per_day=0),
        ]
        verdicts = []
        for practice in practices:
            for n, (touches, consents) in enumerate(SCENARIOS):
                subject = f"{practice.practice_slug}-{n}"
                task = add_task(session, practice, subject_id=subject)
                _populate(session, practice, subject, touches, consents)
                person = Person(practice_slug=practice.practice_slug, subject_type="patient",
                                subject_id=subject, consented=True)
                for now in (NOW, NOW + timedelta(hours=20)):
                    expected = check_gates(session=session, people=[person], channel="call",
                                           practices={practice.practice_slug: practice},
                                           now=now)[person.key]
                    sql = _sql_verdict(session, task, practice, now)
                    hours = call_hours_ok(now, practice.timezone)
                    verdicts.append(expected.ok)
                    assert (sql and hours) == expected.ok, (practice.practice_slug, n, now,
                                                            expected.reason)
        # The scenarios exercise both verdicts.
        assert True in verdicts and False in verdicts


def test_the_sql_gate_equals_check_gates_on_sqlite(loopdesk_home: Path) -> None:
    _compare(sqlite_engine(loopdesk_home))


@pytest.mark.postgres
def test_the_sql_gate_equals_check_gates_on_postgres(
    loopdesk_home: Path, pg_url: str,  # noqa: F811
) -> None:
    engine = get_engine(pg_url)
    try:
        _compare(engine)
    finally:
        engine.dispose()


@pytest.fixture
def store(loopdesk_home: Path) -> Iterator[Engine]:
    window.forget_windows()
    yield sqlite_engine(loopdesk_home)
    window.forget_windows()


def test_a_person_called_after_the_ranking_is_refused_by_the_lease(store: Engine) -> None:
    """The window ranked three tasks; a touch for the second one's person lands from
    elsewhere (not a write of this process: the window stays valid); the next claim pops that
    candidate, its lease refuses it, and it leases the third."""
    with new_session(store) as session:
        practice = add_practice(session)
        best = add_task(session, practice, case_value=9000)
        second = add_task(session, practice, case_value=100)
        third = add_task(session, practice, case_value=50)
        me = add_worker(session, practices=["smile-ny"])
        claimed = claim_next(session=session, user=me, now=NOW)
        assert claimed is not None and claimed.task_id == best.task_id
        slot = window.slot_for(session, window.scope_key(me.work_scope, me.sees_escalated))
        assert slot.window is not None and slot.window.usable(NOW)
        assert [s.row.task_id for s in slot.window.entries] == [second.task_id, third.task_id]
        raw = store.raw_connection()  # another writer: no engine event of this process
        try:
            raw.cursor().execute(
                "insert into touches (practice_slug, subject_type, subject_id, channel,"
                " disposition, notes, minutes, started_at) values (?, 'patient', ?, 'call',"
                " 'no_answer', '', 1.0, ?)",
                ("smile-ny", second.subject_id,
                 (NOW - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S.%f")))
            raw.commit()
        finally:
            raw.close()
        claimed = claim_next(session=session, user=me, now=NOW)
        assert claimed is not None and claimed.task_id == third.task_id
        held = session.get(Task, second.task_id, populate_existing=True)
        assert held is not None and held.status == "open"


@pytest.mark.parametrize("escalated", [False, True])
def test_the_postgres_claim_statement_stays_within_psycopgs_parse_cache(escalated: bool) -> None:
    """psycopg converts a query's `%(name)s` placeholders once per text only for statements of
    at most 4 kB and 50 parameters (psycopg._queries); over that, every claim paid the parse
    again (8.2 kB and 129 parameters did: ~0.2 ms client CPU a claim)."""
    from psycopg import _queries
    from sqlalchemy.dialects.postgresql import psycopg as pg_psycopg

    from console.work.claims import _audited_lease_statement

    compiled = _audited_lease_statement(escalated=escalated).compile(
        dialect=pg_psycopg.dialect())
    assert len(str(compiled).encode()) <= getattr(_queries, "MAX_CACHED_STATEMENT_LENGTH", 4096)
    assert len(compiled.params) <= getattr(_queries, "MAX_CACHED_STATEMENT_PARAMS", 50)

"""Ordering invariants of DOMAIN.md, checked through the queue a user actually sees."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from console.models.identity import Role
from console.models.work import Touch
from console.scoring.priority import (
    SHARE_MAX,
    SHARE_MIN,
    URGENCY_BANDS,
    URGENCY_BREACHED,
    explain,
    fair_share,
    urgency,
)
from console.work.claims import claim_next, list_queue
from tests.factories import NOW, add_practice, add_task, add_worker, session_for, sqlite_engine


def _order(session: object, user: object) -> list[int]:
    return [e.task_id for e in list_queue(session=session, user=user, now=NOW)]  # type: ignore[arg-type]


def test_breached_before_not_breached_of_equal_value(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        fine = add_task(session, practice, sla_deadline=NOW + timedelta(days=5))
        breached = add_task(session, practice, sla_deadline=NOW - timedelta(hours=1))
        user = add_worker(session, role=Role.manager)
        assert _order(session, user) == [breached.task_id, fine.task_id]


def test_fresh_lead_before_fresh_ask_of_equal_case_value(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        ask = add_task(session, practice, kind="ask", case_value=6000, satisfaction=10,
                       decay_from=NOW - timedelta(hours=1))
        lead = add_task(session, practice, kind="contact_lead", case_value=6000,
                        decay_from=NOW - timedelta(hours=1))
        user = add_worker(session, role=Role.manager)
        assert _order(session, user) == [lead.task_id, ask.task_id]


def test_higher_case_value_first_all_else_equal(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        low = add_task(session, practice, case_value=2000)
        high = add_task(session, practice, case_value=18000)
        mid = add_task(session, practice, case_value=7000)
        user = add_worker(session, role=Role.manager)
        assert _order(session, user) == [high.task_id, mid.task_id, low.task_id]


def test_interest_fades_with_days_since_results(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        stale = add_task(session, practice, decay_from=NOW - timedelta(days=60))
        fresh = add_task(session, practice, decay_from=NOW - timedelta(days=1))
        user = add_worker(session, role=Role.manager)
        entries = list_queue(session=session, user=user, now=NOW)
        assert [e.task_id for e in entries] == [fresh.task_id, stale.task_id]
        # Sixty days is two half-lives: a quarter of the value (same urgency band).
        assert abs(entries[1].priority / entries[0].priority - 0.5 ** (59 / 30)) < 1e-6


def test_practice_further_below_its_share_first(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        behind = add_practice(session, "behind", contracted_hours=10)
        ahead = add_practice(session, "ahead", contracted_hours=10)
        # Thursday 15:00 UTC: 3.6 of 7 days gone, so 5.1 h owed to each practice.
        session.add(Touch(practice_slug="ahead", subject_type="patient", subject_id="x",
                          minutes=8 * 60, started_at=NOW - timedelta(days=1)))
        session.commit()
        task_ahead = add_task(session, ahead)
        task_behind = add_task(session, behind)
        user = add_worker(session, role=Role.manager)
        entries = list_queue(session=session, user=user, now=NOW)
        assert [e.task_id for e in entries] == [task_behind.task_id, task_ahead.task_id]
        assert any("behind its hours" in reason for reason in entries[0].why)
        assert any("ahead of its hours" in reason for reason in entries[1].why)


def test_fair_share_never_lifts_above_another_practices_equal_breach(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        behind = add_practice(session, "behind", contracted_hours=40)
        ahead = add_practice(session, "ahead", contracted_hours=1)
        session.add(Touch(practice_slug="ahead", subject_type="patient", subject_id="x",
                          minutes=40 * 60, started_at=NOW - timedelta(days=1)))
        session.commit()
        lifted = add_task(session, behind, sla_deadline=NOW + timedelta(hours=2))
        breached = add_task(session, ahead, sla_deadline=NOW - timedelta(minutes=5))
        user = add_worker(session, role=Role.manager)
        assert _order(session, user) == [breached.task_id, lifted.task_id]


def test_gate_failing_claimed_and_snoozed_tasks_are_never_offered(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        night = add_practice(session, "night", timezone="Asia/Tokyo")  # 00:00 there
        add_task(session, practice, case_value=90000, consent_call=False)
        add_task(session, night, case_value=90000)
        add_task(session, practice, case_value=80000, snoozed_until=NOW + timedelta(hours=1))
        add_task(session, practice, case_value=70000, due_at=NOW + timedelta(days=1))
        tired = add_task(session, practice, case_value=60000, subject_id="tired")
        session.add(Touch(practice_slug="smile-ny", subject_type="patient", subject_id="tired",
                          minutes=3, started_at=NOW - timedelta(hours=2)))
        session.commit()
        held = add_task(session, practice, case_value=50000)
        other = add_worker(session, role=Role.manager)
        first = claim_next(session=session, user=other, now=NOW)
        assert first is not None and first.task_id == held.task_id
        offered = add_task(session, practice, case_value=1000)
        user = add_worker(session, role=Role.manager)
        claimed = claim_next(session=session, user=user, now=NOW)
        assert claimed is not None and claimed.task_id == offered.task_id
        assert claim_next(session=session, user=user, now=NOW) is None
        shown = {e.task_id: e for e in list_queue(session=session, user=user, now=NOW)}
        assert shown[tired.task_id].gate_reason == "already contacted today"
        assert held.task_id not in shown and offered.task_id not in shown


def test_urgency_rises_to_the_breach() -> None:
    levels = [urgency(sla_deadline=NOW + delta, now=NOW)
              for delta in (timedelta(days=5), timedelta(hours=48), timedelta(hours=12),
                            timedelta(hours=1), timedelta(0), -timedelta(days=3))]
    assert levels == sorted(levels)
    assert levels[-1] == levels[-2] == URGENCY_BREACHED
    assert URGENCY_BANDS[0][1] * SHARE_MAX < URGENCY_BREACHED * SHARE_MIN


def test_fair_share_is_clamped_and_neutral_at_week_start() -> None:
    assert fair_share(logged_minutes=0, contracted_hours=10, week_fraction=0).factor == 1.0
    assert fair_share(logged_minutes=0, contracted_hours=10, week_fraction=0.5).factor == SHARE_MAX
    far_ahead = fair_share(logged_minutes=6000, contracted_hours=10, week_fraction=0.5)
    assert far_ahead.factor == SHARE_MIN and far_ahead.behind_hours == -95


def test_why_reads_like_a_reason_and_names_no_one() -> None:
    reasons = explain(kind="ask", category="implant", case_value=18400,
                      decay_from=NOW - timedelta(days=3), sla_deadline=NOW + timedelta(hours=4),
                      attempt=1, share=fair_share(logged_minutes=0, contracted_hours=12,
                                                  week_fraction=0.5), now=NOW)
    assert reasons == ["results visible 3 days ago", "$18,400 implant case", "SLA in 4 h",
                       "practice 6 h behind its hours this week"]

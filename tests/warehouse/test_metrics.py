"""compute_metrics on tiny literal warehouses, each expected figure worked out by hand."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tests.warehouse.test_metrics_world import AS_OF, T0, World, at, full_rate
from warehouse.metrics import UnknownPractice, compute_metrics, default_period
from warehouse.rules import PracticeCalendar
from warehouse.scope import Scope

MARCH_TO_JUNE: dict[str, Any] = {"date_from": date(2026, 3, 1), "date_to": date(2026, 6, 30)}


def _practice(result: dict[str, Any], slug: str = "p1") -> dict[str, Any]:
    (row,) = [r for r in result["practices"] if r["practice_slug"] == slug]
    return row


def _metrics(world: World, **kwargs: Any) -> dict[str, Any]:
    return compute_metrics(world.build(), scope=Scope.agency(), **{**MARCH_TO_JUNE, **kwargs})


def test_patient_funnel_rates() -> None:
    """Four cohort patients: a asked+reached+willing and referred, b asked+reached, c asked only,
    d never asked. ask 3/4, reach 2/3, willingness 1/2, referral 1/4, gap 100*(0.5-0.25) = 25."""
    world = World().practice("p1")
    for patient in "abcd":
        world.treatment("p1", f"t{patient}", patient, visible_at=T0)
    world.ask("p1", "a", at(1), reached=True, willing=True)
    world.ask("p1", "b", at(2), reached=True)
    world.ask("p1", "c", at(3))
    world.lead("p1", "l1", "a", at(10))
    row = _practice(_metrics(world))
    assert row["cohort_patients"] == 4
    assert full_rate(row, "ask_rate") == {"value": 0.75, "numerator": 3, "denominator": 4}
    assert row["reach_rate"] == pytest.approx(2 / 3)
    assert full_rate(row, "willingness_rate") == {"value": 0.5, "numerator": 1, "denominator": 2}
    assert full_rate(row, "referral_rate") == {"value": 0.25, "numerator": 1, "denominator": 4}
    assert row["intent_action_gap_pts"] == pytest.approx(25.0)


def test_ask_window_is_30_days_inclusive() -> None:
    """Asked exactly 30 d after results visible counts; 30 d + 1 s, or before visible, does not:
    ask_rate = 1/3."""
    world = World().practice("p1")
    for patient in ("on_day_30", "just_after", "before"):
        world.treatment("p1", f"t_{patient}", patient, visible_at=T0)
    world.ask("p1", "on_day_30", at(30))
    world.ask("p1", "just_after", at(30, seconds=1))
    world.ask("p1", "before", at(-1))
    row = _practice(_metrics(world))
    assert full_rate(row, "ask_rate") == {"value": 1 / 3, "numerator": 1, "denominator": 3}


def test_referral_window_is_180_days_inclusive() -> None:
    """A lead exactly 180 d after results visible counts; 180 d + 1 s does not: referral 1/2."""
    world = World().practice("p1")
    world.treatment("p1", "t1", "on_day_180", visible_at=T0)
    world.treatment("p1", "t2", "too_late", visible_at=T0)
    world.lead("p1", "l1", "on_day_180", at(180))
    world.lead("p1", "l2", "too_late", at(180, seconds=1))
    row = _practice(_metrics(world))
    assert full_rate(row, "referral_rate") == {"value": 0.5, "numerator": 1, "denominator": 2}


def test_cohort_is_results_visible_in_period_and_patients_count_once() -> None:
    """Period 2026-03-01..06-30: visible 03-01 00:00 and 06-30 23:59:59 are in, 07-01 00:00 and
    02-28 23:59:59 are out. Patient 'twice' has two treatments in the period: one patient.
    Cohort = first, last, twice = 3; 'twice' referred on one of them: referral 1/3."""
    world = World().practice("p1")
    world.treatment("p1", "t1", "first", visible_at=datetime(2026, 3, 1, tzinfo=UTC))
    world.treatment("p1", "t2", "last", visible_at=datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC))
    world.treatment("p1", "t3", "out_after", visible_at=datetime(2026, 7, 1, tzinfo=UTC))
    world.treatment(
        "p1", "t4", "out_before", visible_at=datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC)
    )
    world.treatment("p1", "t5", "twice", visible_at=at(5))
    world.treatment("p1", "t6", "twice", visible_at=at(50))
    world.lead("p1", "l1", "twice", at(60))
    row = _practice(_metrics(world))
    assert row["cohort_patients"] == 3
    assert full_rate(row, "referral_rate") == {"value": 1 / 3, "numerator": 1, "denominator": 3}


def test_empty_denominators_are_null_not_zero() -> None:
    """p1 has a cohort nobody asked (reach/willingness undefined); p2 has no data at all."""
    world = World().practice("p1").practice("p2")
    world.treatment("p1", "t1", "a", visible_at=T0)
    result = _metrics(world)
    p1, p2 = _practice(result, "p1"), _practice(result, "p2")
    assert full_rate(p1, "ask_rate") == {"value": 0.0, "numerator": 0, "denominator": 1}
    assert full_rate(p1, "reach_rate") == {"value": None, "numerator": 0, "denominator": 0}
    assert p1["willingness_rate"] is None
    assert p1["intent_action_gap_pts"] is None
    for name in ("ask_rate", "referral_rate", "lead_contact_sla_rate", "lead_conversion_rate",
                 "loop_closure_rate", "repeat_referral_rate"):
        assert p2[name] is None, name
    assert all(v is None for v in p2["sla_compliance"].values())
    assert p2["referred_revenue"] == 0.0
    json.dumps(result)  # the whole result is JSON-serialisable


def test_lead_contact_sla_with_business_days_and_task_deadlines() -> None:
    """Fallback deadline = +1 business day in the practice zone; a contact_lead task's deadline
    wins when present. T0 is Monday 2026-03-02 15:00 UTC.
    - mon: referred Mon, contacted Tue 15:00 (= deadline, inclusive) -> in SLA
    - fri: referred Fri 03-06 15:00, contacted Mon 03-09 15:00 (weekend skipped) -> in SLA
    - fri_late: referred Fri, contacted Mon 15:00:01 -> late
    - tasked: task deadline T0+1h, contacted T0+2h -> late although the fallback would allow it
    - never: not contacted -> not in SLA
    2/5 = 0.4."""
    world = World().practice("p1")
    world.lead("p1", "mon", "a", T0, first_contact_at=at(1))
    world.lead("p1", "fri", "b", at(4), first_contact_at=at(7))
    world.lead("p1", "fri_late", "c", at(4), first_contact_at=at(7, seconds=1))
    world.lead("p1", "tasked", "d", T0, first_contact_at=at(0, hours=2))
    world.task(1, "p1", "contact_lead", sla_deadline=at(0, hours=1), lead_id="tasked")
    world.lead("p1", "never", "e", T0)
    row = _practice(_metrics(world))
    assert full_rate(row, "lead_contact_sla_rate") == {
        "value": 0.4, "numerator": 2, "denominator": 5
    }


def test_lead_contact_sla_uses_practice_local_days_across_dst() -> None:
    """Chicago practice: referred Fri 2026-03-06 20:00 CST (03-07 02:00 UTC). One business day
    later is Mon 03-09 20:00 local, which is CDT after the 03-08 DST change = 03-10 01:00 UTC.
    Contacted 03-10 01:00 UTC -> in SLA; 03-10 01:30 UTC -> late (a UTC-only rule would say in)."""
    world = World().practice("p1", timezone="America/Chicago")
    referred = datetime(2026, 3, 7, 2, 0, tzinfo=UTC)
    ok, late = datetime(2026, 3, 10, 1, 0, tzinfo=UTC), datetime(2026, 3, 10, 1, 30, tzinfo=UTC)
    world.lead("p1", "ok", "a", referred, first_contact_at=ok)
    world.lead("p1", "late", "b", referred, first_contact_at=late)
    row = _practice(_metrics(world))
    assert full_rate(row, "lead_contact_sla_rate") == {
        "value": 0.5, "numerator": 1, "denominator": 2
    }


def test_derived_sla_deadlines_count_the_practice_open_days() -> None:
    """A practice open Tuesday to Saturday: a lead referred Fri 03-06 15:00 UTC is due Sat 03-07
    15:00 (Monday would be late), and a loop whose outcome came Thu 03-05 is due two open days
    later, Sat 03-07 (a Mon-Fri week would allow Monday). The default practice p2 keeps Mon-Fri."""
    world = World().practice("p1").practice("p2")
    world.calendars["p1"] = PracticeCalendar(business_days="23456")
    for slug in ("p1", "p2"):
        world.lead(slug, "sat", "a", at(4), first_contact_at=at(5))
        world.lead(slug, "mon", "b", at(4), first_contact_at=at(7))
        world.lead(slug, "told_mon", "c", T0, status="declined", outcome_at=at(3),
                   first_contact_at=at(1), loop_closed_at=at(7))
    p1, p2 = _practice(_metrics(world), "p1"), _practice(_metrics(world), "p2")
    assert full_rate(p1, "lead_contact_sla_rate") == {
        "value": 2 / 3, "numerator": 2, "denominator": 3
    }
    assert full_rate(p2, "lead_contact_sla_rate") == {
        "value": 1.0, "numerator": 3, "denominator": 3
    }
    assert full_rate(p1, "loop_closure_rate")["numerator"] == 0
    assert full_rate(p2, "loop_closure_rate")["numerator"] == 1


def test_lead_conversion_within_90_days_and_referred_revenue() -> None:
    """Booked exactly 90 d after referral ($5,000) converts; booked 90 d + 1 s ($7,000) and
    declined do not; treated after booking on day 10 ($3,000) converts. 2/4 = 0.5, revenue 8,000."""
    world = World().practice("p1")
    world.lead("p1", "day90", "a", T0, status="booked", outcome_at=at(90), booked_value=5000)
    world.lead("p1", "late", "b", T0, status="booked", outcome_at=at(90, seconds=1),
               booked_value=7000)
    world.lead("p1", "declined", "c", T0, status="declined", outcome_at=at(5))
    world.lead("p1", "treated", "d", T0, status="treated", outcome_at=at(10), booked_value=3000)
    row = _practice(_metrics(world))
    assert full_rate(row, "lead_conversion_rate") == {
        "value": 0.5, "numerator": 2, "denominator": 4
    }
    assert row["referred_revenue"] == 8000.0
    assert row["counts"]["leads_converted_90d"] == 2


def test_loop_closure_within_two_business_days() -> None:
    """Outcome Mon T0 -> deadline Wed T0+2d. Closed at T0+2d: in SLA; at T0+2d+1s: late; never:
    not. Outcome Fri 03-06 -> deadline Tue 03-10; closed Tue: in SLA. A lead with an outcome but no
    referrer has nobody to tell and is left out; a lead with no outcome is not in the
    denominator. 2/4 = 0.5."""
    world = World().practice("p1")
    world.lead("p1", "on_time", "a", at(-3), status="declined", outcome_at=T0, loop_closed_at=at(2))
    world.lead("p1", "late", "b", at(-3), status="declined", outcome_at=T0,
               loop_closed_at=at(2, seconds=1))
    world.lead("p1", "never", "c", at(-3), status="unreachable", outcome_at=T0)
    world.lead("p1", "friday", "d", at(-3), status="booked", outcome_at=at(4), loop_closed_at=at(8))
    world.lead("p1", "anonymous", None, at(-3), status="booked", outcome_at=T0)
    world.lead("p1", "open", "e", at(-3), status="contacted", first_contact_at=T0)
    row = _practice(_metrics(world, date_from=date(2026, 2, 1)))
    assert full_rate(row, "loop_closure_rate") == {"value": 0.5, "numerator": 2, "denominator": 4}


def test_repeat_referral_split_by_loop_closed() -> None:
    """Referrers by their first lead in the period: r1 (loop closed, 2 leads), r2 (closed, 1),
    r3 (open, 1), r4 (open, 2 leads), r5 (open, 1). Overall 2/5; closed 1/2; not closed 1/3."""
    world = World().practice("p1")
    world.lead("p1", "r1a", "r1", T0, status="booked", outcome_at=at(1), loop_closed_at=at(2))
    world.lead("p1", "r1b", "r1", at(20))
    world.lead("p1", "r2a", "r2", T0, status="declined", outcome_at=at(1), loop_closed_at=at(2))
    world.lead("p1", "r3a", "r3", T0)
    world.lead("p1", "r4a", "r4", T0, status="declined", outcome_at=at(1))
    world.lead("p1", "r4b", "r4", at(30))
    world.lead("p1", "r5a", "r5", T0)
    row = _practice(_metrics(world))
    assert full_rate(row, "repeat_referral_rate") == {
        "value": 0.4, "numerator": 2, "denominator": 5
    }
    assert full_rate(row, "repeat_referral_rate_loop_closed") == {
        "value": 0.5, "numerator": 1, "denominator": 2
    }
    assert row["repeat_referral_rate_loop_not_closed"] == pytest.approx(1 / 3)


def test_sla_compliance_per_kind() -> None:
    """Period to 2026-12-31 (past as_of 2026-11-26 15:00). ask tasks: done early (met), done exactly
    at the deadline (met), done late, open and breached, cancelled (ignored), open with a deadline
    still ahead (pending, ignored). ask = 2/4 with 1 open breached; contact_lead none -> null."""
    world = World().practice("p1")
    world.task(1, "p1", "ask", sla_deadline=at(7), closed_at=at(3))
    world.task(2, "p1", "ask", sla_deadline=at(7), closed_at=at(7))
    world.task(3, "p1", "ask", sla_deadline=at(7), closed_at=at(8))
    world.task(4, "p1", "ask", sla_deadline=at(7), status="open")
    world.task(5, "p1", "ask", sla_deadline=at(7), status="cancelled", closed_at=at(1))
    world.task(6, "p1", "ask", sla_deadline=AS_OF + timedelta(days=2), status="claimed")
    row = _practice(_metrics(world, date_to=date(2026, 12, 31)))
    assert row["sla_compliance"]["ask"] == 0.5
    counts = row["counts"]
    assert (counts["sla_met__ask"], counts["sla_due__ask"]) == (2, 4)
    assert counts["sla_open_breached__ask"] == row["open_breached"]["ask"] == 1
    assert row["sla_compliance"]["contact_lead"] is None


def test_hours_delivered_per_week_vs_contract() -> None:
    """Period 2026-03-02..03-15 (2 weeks): coordinator touches of 90 + 150 min in it, an automated
    5-min message and a touch on 03-16 do not count. 240 min = 4 h / 2 weeks = 2 h/wk vs 8
    contracted = 0.25."""
    world = World().practice("p1", contracted=8.0)
    world.touch(1, "p1", minutes=90, started_at=T0)
    world.touch(2, "p1", minutes=150, started_at=at(13, hours=8))
    world.touch(3, "p1", minutes=5, started_at=at(1), coordinator_id=None)
    world.touch(4, "p1", minutes=60, started_at=at(14))
    row = _practice(_metrics(world, date_from=date(2026, 3, 2), date_to=date(2026, 3, 15)))
    assert row["counts"]["hours_total"] == pytest.approx(4.0)
    assert row["counts"]["weeks"] == pytest.approx(2.0)
    assert row["hours_delivered"] == pytest.approx(2.0)
    assert row["hours_contracted_per_week"] == 8.0
    assert row["hours_ratio_to_contract"] == pytest.approx(0.25)


def test_agency_rollup_weights_by_counts_not_average_of_rates() -> None:
    """p1: 4 cohort patients, 1 referred (25%); p2: 1 patient, 1 referred (100%). The average of
    rates would be 62.5%; the agency rate is (1 + 1) / (4 + 1) = 40%. Hours: p1 3 h, p2 1 h over
    2 weeks vs 10 + 10 contracted: 2 h/wk / 20 = 0.1."""
    world = World().practice("p1").practice("p2")
    for patient in "abcd":
        world.treatment("p1", f"t{patient}", patient, visible_at=T0)
    world.treatment("p2", "tz", "z", visible_at=T0)
    world.lead("p1", "l1", "a", at(3))
    world.lead("p2", "l2", "z", at(3))
    world.touch(1, "p1", minutes=180, started_at=T0)
    world.touch(2, "p2", minutes=60, started_at=T0)
    result = _metrics(world, date_from=date(2026, 3, 2), date_to=date(2026, 3, 15))
    agency = result["agency"]
    assert agency["practices"] == 2
    assert full_rate(agency, "referral_rate") == {"value": 0.4, "numerator": 2, "denominator": 5}
    assert agency["hours_ratio_to_contract"] == pytest.approx(0.1)


def test_scope_limits_practices_and_rollup() -> None:
    """A client owner of p1 sees p1 only, the roll-up counts p1 only, and asking for p2 raises."""
    world = World().practice("p1").practice("p2")
    world.treatment("p1", "t1", "a", visible_at=T0)
    world.treatment("p2", "t2", "b", visible_at=T0)
    world.lead("p2", "l2", "b", at(1))
    conn = world.build()
    owner = Scope.of(["p1"])
    result = compute_metrics(conn, scope=owner, **MARCH_TO_JUNE)
    assert [r["practice_slug"] for r in result["practices"]] == ["p1"]
    assert result["agency"]["counts"]["cohort_patients"] == 1
    assert result["agency"]["counts"]["leads"] == 0
    with pytest.raises(UnknownPractice):
        compute_metrics(conn, scope=owner, practice_slug="p2")
    with pytest.raises(UnknownPractice):
        compute_metrics(conn, scope=Scope.agency(), practice_slug="nope")
    assert compute_metrics(conn, scope=Scope())["practices"] == []


def test_default_period_is_last_12_full_months() -> None:
    """as_of 2026-11-26 -> 2025-11-01 .. 2026-10-31; compute_metrics uses it by default."""
    assert default_period(AS_OF).date_from == date(2025, 11, 1)
    assert default_period(AS_OF).date_to == date(2026, 10, 31)
    world = World().practice("p1")
    world.treatment("p1", "in", "a", visible_at=datetime(2026, 10, 31, 12, tzinfo=UTC))
    world.treatment("p1", "out", "b", visible_at=datetime(2026, 11, 2, tzinfo=UTC))
    result = compute_metrics(world.build(), scope=Scope.agency())
    assert result["period"] == {"from": "2025-11-01", "to": "2026-10-31"}
    assert _practice(result)["cohort_patients"] == 1

"""Funnel by month, SLA board, capacity and before/after onboarding on literal warehouses."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tests.warehouse.test_metrics_world import T0, World, at, full_rate
from warehouse.metrics import UnknownPractice, before_after_onboarding
from warehouse.metrics_ops import capacity, funnel_by_month, sla_board
from warehouse.scope import Scope


def test_funnel_by_month_counts_distinct_patients_per_stage() -> None:
    """March 2026: a (two treatments) goes all the way; b is asked but not reached; c's results are
    not visible by as_of. April: d visible, never asked.
    March = treated 3, visible 2, asked 2, reached 1, willing 1, referred 1, contacted 1, booked 1,
    loop closed 1; April = treated 1, visible 1, zeros after."""
    march = datetime(2026, 3, 1, 10, tzinfo=UTC)
    world = World().practice("p1")
    world.treatment("p1", "ta1", "a", completed_at=march, visible_at=march + timedelta(days=14))
    world.treatment("p1", "ta2", "a", completed_at=march + timedelta(days=3),
                    visible_at=march + timedelta(days=17))
    world.treatment("p1", "tb", "b", completed_at=march + timedelta(days=4),
                    visible_at=march + timedelta(days=18))
    world.treatment("p1", "tc", "c", completed_at=march + timedelta(days=9),
                    visible_at=datetime(2027, 1, 1, tzinfo=UTC))
    world.treatment("p1", "td", "d", completed_at=datetime(2026, 4, 2, tzinfo=UTC),
                    visible_at=datetime(2026, 4, 4, tzinfo=UTC))
    world.ask("p1", "a", march + timedelta(days=15), reached=True, willing=True)
    world.ask("p1", "b", march + timedelta(days=19))
    world.lead("p1", "l1", "a", march + timedelta(days=15), status="booked",
               first_contact_at=march + timedelta(days=16), outcome_at=march + timedelta(days=20),
               loop_closed_at=march + timedelta(days=21))
    rows = funnel_by_month(world.build(), scope=Scope.of(["p1"]), practice_slug="p1")
    assert [r["month"] for r in rows] == [date(2026, 3, 1), date(2026, 4, 1)]
    march_row, april_row = rows
    assert [march_row[k] for k in list(march_row)[1:]] == [3, 2, 2, 1, 1, 1, 1, 1, 1]
    assert [april_row[k] for k in list(april_row)[1:]] == [1, 1, 0, 0, 0, 0, 0, 0, 0]


def test_funnel_by_month_refuses_a_practice_outside_the_scope() -> None:
    """An owner of p2 asking for p1's funnel gets an error, not rows."""
    world = World().practice("p1").practice("p2")
    world.treatment("p1", "t1", "a", visible_at=T0)
    with pytest.raises(UnknownPractice):
        funnel_by_month(world.build(), scope=Scope.of(["p2"]), practice_slug="p1")


def _sla_world() -> World:
    world = World().practice("p1").practice("p2")
    world.task(1, "p1", "ask", sla_deadline=at(9), status="open")
    world.task(2, "p1", "ask", sla_deadline=at(10, hours=5), status="claimed")
    world.task(3, "p1", "ask", sla_deadline=at(12), status="open")
    world.task(4, "p1", "ask", sla_deadline=at(7), closed_at=at(3))
    world.task(5, "p1", "contact_lead", sla_deadline=at(7), closed_at=at(8))
    world.task(6, "p2", "ask", sla_deadline=at(9), status="open")
    world.task(7, "p1", "ask", sla_deadline=at(8), status="cancelled", closed_at=at(1))
    return world


def test_sla_board_lists_breached_and_at_risk_tasks() -> None:
    """now = T0+10d. p1: task 1 breached; task 2 due in 5 h (at risk, 24 h horizon); task 3 due in
    2 d (neither); cancelled task 7 not listed. Compliance over the last 30 d: ask = task 4 met,
    task 1 breached -> 1/2 (tasks 2, 3 not yet due); contact_lead = task 5 late -> 0/1."""
    board = sla_board(_sla_world().build(), scope=Scope.agency(), now=at(10))
    p1, p2 = board["practices"]
    assert p1["breached_task_ids"] == [1]
    assert p1["at_risk_task_ids"] == [2]
    assert p1["compliance"]["ask"] == {"value": 0.5, "numerator": 1, "denominator": 2}
    assert p1["compliance"]["contact_lead"]["value"] == 0.0
    assert p1["compliance"]["close_loop"]["value"] is None
    assert p2["breached_task_ids"] == [6]


def test_sla_board_shows_an_owner_only_their_practice() -> None:
    """The owner of p1 never sees p2's breached task 6."""
    board = sla_board(_sla_world().build(), scope=Scope.of(["p1"]), now=at(10))
    assert [p["practice_slug"] for p in board["practices"]] == ["p1"]
    assert 6 not in board["practices"][0]["breached_task_ids"]


def _capacity_world() -> World:
    world = World().practice("p1", contracted=12.0).practice("p2", contracted=5.0)
    world.touch(1, "p1", minutes=600, started_at=at(1), coordinator_id=1)
    world.touch(2, "p2", minutes=300, started_at=at(2), coordinator_id=2)
    world.touch(3, "p1", minutes=60, started_at=at(7), coordinator_id=1)
    world.touch(4, "p1", minutes=30, started_at=at(1), coordinator_id=None)
    # observed minutes per done ask task, in another week: 4 + 6 = 10, 2, 20 -> median 10
    for touch_id, task_id, minutes in ((10, 10, 4), (11, 10, 6), (12, 11, 2), (13, 12, 20)):
        world.touch(touch_id, "p2", minutes=minutes, started_at=at(-30), coordinator_id=3,
                    task_id=task_id, task_kind="ask")
    for task_id in (10, 11, 12):
        world.task(task_id, "p2", "ask", sla_deadline=at(-28), closed_at=at(-30))
    for task_id in (20, 21, 22):
        world.task(task_id, "p1", "ask", sla_deadline=at(5), status="open")
    for task_id in (30, 31):
        world.task(task_id, "p1", "contact_lead", sla_deadline=at(5), status="open")
    return world


def test_capacity_hours_utilisation_and_backlog() -> None:
    """Week of Monday 2026-03-02 (asked as Wednesday 03-04): p1 600 min = 10 h vs 12 contracted
    (-2); the 60 min next week and the automated message do not count. Coordinator 1: 600/2400 =
    0.25, coordinator 2: 300/2400 = 0.125. p1 backlog: 3 open asks x median 10 min + 2 open
    contact_lead x default 8 min = 46 min."""
    result = capacity(_capacity_world().build(), scope=Scope.agency(), week_start=date(2026, 3, 4))
    assert result["week_start"] == "2026-03-02"
    p1 = result["practices"][0]
    assert p1["hours_delivered"] == pytest.approx(10.0)
    assert p1["hours_vs_contract"] == pytest.approx(-2.0)
    assert p1["backlog_hours"] == pytest.approx(46 / 60)
    utilisation = {c["coordinator_id"]: c["utilisation"] for c in result["coordinators"]}
    assert utilisation == {1: pytest.approx(0.25), 2: pytest.approx(0.125)}
    assert result["totals"]["team_available_hours"] == pytest.approx(80.0)


def test_capacity_for_an_owner_hides_other_practices_and_coordinators() -> None:
    """An owner of p1 sees p1's row only and no agency-wide coordinator utilisation."""
    result = capacity(_capacity_world().build(), scope=Scope.of(["p1"]), week_start=T0.date())
    assert [p["practice_slug"] for p in result["practices"]] == ["p1"]
    assert result["coordinators"] == []


def test_before_after_onboarding_splits_at_onboarded_at() -> None:
    """Onboarded T0+100d. Before (the 365 d up to it): a and b, neither referred -> 0/2.
    After (to as_of): c visible T0+120d referred at T0+130d -> 1/1."""
    world = World().practice("p1", onboarded_at=at(100))
    world.treatment("p1", "ta", "a", visible_at=T0)
    world.treatment("p1", "tb", "b", visible_at=at(10))
    world.treatment("p1", "tc", "c", visible_at=at(120))
    world.lead("p1", "l1", "c", at(130))
    result = before_after_onboarding(world.build(), scope=Scope.of(["p1"]), practice_slug="p1")
    before = full_rate(result["before"]["metrics"], "referral_rate")
    after = full_rate(result["after"]["metrics"], "referral_rate")
    assert (before["numerator"], before["denominator"], before["value"]) == (0, 2, 0.0)
    assert (after["numerator"], after["denominator"], after["value"]) == (1, 1, 1.0)


def test_before_after_onboarding_without_a_date_and_outside_scope() -> None:
    """No onboarded_at -> both halves None; another practice's owner gets an error."""
    world = World().practice("p1").practice("p2", onboarded_at=T0)
    conn = world.build()
    result = before_after_onboarding(conn, scope=Scope.agency(), practice_slug="p1")
    assert result["before"] is None and result["after"] is None
    with pytest.raises(UnknownPractice):
        before_after_onboarding(conn, scope=Scope.of(["p1"]), practice_slug="p2")

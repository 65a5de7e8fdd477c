"""mart_learned_rates: estimates converge to the truth and equal the prior without data."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from console.scoring.priority import PRIOR_STRENGTH, prior_rows
from tests.warehouse import rawdata as rd
from warehouse.runner import MODELS_DIR
from warehouse.snapshot import publish_snapshot, reading_snapshot

CHICAGO = ZoneInfo("America/Chicago")


def _rates() -> dict[tuple[str, str, str], tuple[int, float, float]]:
    with reading_snapshot() as conn:
        rows = conn.execute(
            "select measure, cell_group, band, trials, prior, estimate from mart_learned_rates"
        ).fetchall()
    return {(m, g, b): (n, p, e) for m, g, b, n, p, e in rows}


def test_seed_priors_are_the_priority_constants() -> None:
    """stg_seed__queue_priors holds exactly console.scoring.priority.prior_rows()."""
    sql = (MODELS_DIR / "staging" / "stg_seed__queue_priors.sql").read_text()
    seeded = {(m, g, b): float(p) for m, g, b, p in
              re.findall(r"\('(\w+)', '(\w+)', '([\w+-]+)', ([\d.e-]+)\)", sql)}
    assert seeded == {(m, g, b): p for m, g, b, p in prior_rows()}


def test_no_history_gives_the_priors(loopdesk_home: Path) -> None:
    """Without any call every cell has zero evidence and its estimate is its prior."""
    with rd.raw_store() as conn:
        rd.practice(conn)
    publish_snapshot(as_of=rd.AS_OF)
    rates = _rates()
    assert len(rates) == len(prior_rows())
    for trials, prior, estimate in rates.values():
        assert trials == 0
        assert estimate == pytest.approx(prior)


def test_estimates_converge_to_a_literal_worlds_rates(loopdesk_home: Path) -> None:
    """3,000 first calls: answer 0.25 at 10:00 and 0.6 at 18:00 local, willing 0.7, names 0.4."""
    rng = np.random.default_rng(11)
    truth = {10: 0.25, 18: 0.6}
    touches = []
    with rd.raw_store() as conn:
        rd.practice(conn)  # America/Chicago
        for i in range(3000):
            hour = 10 if i % 2 else 18
            day = date(2026, 11, 20) - timedelta(days=i % 20)
            at = datetime.combine(day, time(hour), tzinfo=CHICAGO)
            answered = rng.random() < truth[hour]
            willing = answered and rng.random() < 0.7
            names = willing and rng.random() < 0.4
            disposition = ("referred" if names else "willing_no_name" if willing
                           else "declined" if answered else "no_answer")
            touches.append(rd.call_touch(i + 1, f"pat{i}", disposition=disposition, at=at))
    publish_snapshot(as_of=rd.AS_OF, ops_events={"ops_touches": rd.ops_table("ops_touches",
                                                                              touches)})
    rates = _rates()
    for hour, rate in truth.items():
        trials, _, estimate = rates[("answer_hour", "patient", str(hour))]
        assert trials == 1500
        assert estimate == pytest.approx(rate, abs=0.05)
    trials, prior, estimate = rates[("answer_attempt", "ask", "1")]
    assert trials == 3000
    assert estimate == pytest.approx(0.425, abs=0.04)
    _, _, willing = rates[("willing_all", "patient", "all")]
    assert willing == pytest.approx(0.7, abs=0.05)
    _, _, names = rates[("names_friend", "patient", "all")]
    assert names == pytest.approx(0.4, abs=0.06)
    # An hour nobody was called at keeps its prior; shrinkage is the documented strength.
    trials, prior, estimate = rates[("answer_hour", "patient", "3")]
    assert trials == 0 and estimate == pytest.approx(prior)
    assert PRIOR_STRENGTH == 20.0


def test_team_hours_count_the_calling_days_with_a_call_in_each_utc_hour(
        loopdesk_home: Path) -> None:
    """25 calling days at 09:00 Chicago (15:00 UTC), the last 5 also at 13:00 (19:00 UTC):
    of the last 20 calling days, 20 had a call at 15:00 UTC and 5 at 19:00 UTC."""
    touches = []
    with rd.raw_store() as conn:
        rd.practice(conn)
        for i in range(25):
            day = date(2026, 11, 25) - timedelta(days=i)
            hours = (9, 13) if i < 5 else (9,)
            for hour in hours:
                at = datetime.combine(day, time(hour), tzinfo=CHICAGO)
                touches.append(rd.call_touch(len(touches) + 1, f"pat{i}-{hour}",
                                             disposition="no_answer", at=at))
    publish_snapshot(as_of=rd.AS_OF, ops_events={"ops_touches": rd.ops_table("ops_touches",
                                                                              touches)})
    with reading_snapshot() as conn:
        rows = conn.execute(
            "select band, successes, trials from mart_learned_rates where measure = 'team_hour'"
        ).fetchall()
    counted = {band: (successes, trials) for band, successes, trials in rows}
    assert len(counted) == 24
    assert counted["15"] == (20, 20) and counted["19"] == (5, 20)
    assert counted["3"][0] == 0

"""Read-side metric queries (DOMAIN.md → Metrics) over the snapshot, filtered by scope."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import duckdb

from warehouse import rules
from warehouse.metrics_base import (
    TASK_KINDS,
    Period,
    PracticeRow,
    UnknownPractice,
    default_period,
    rate,
    resolve_period,
    snapshot_as_of,
    visible_practices,
)
from warehouse.metrics_block import RATE_COUNTS, RATE_KEYS, metric_block, rate_counts
from warehouse.scope import Scope

BENCHMARKS: dict[str, Any] = {
    "ask_rate": 1.0,
    "willingness_rate": rules.WILLINGNESS_BENCHMARK,
    "referral_rate": {
        "passive": rules.REFERRAL_RATE_PASSIVE,
        "typical": rules.REFERRAL_RATE_TYPICAL,
        "systematic": rules.REFERRAL_RATE_SYSTEMATIC,
    },
    "intent_action_gap_pts": rules.INTENT_ACTION_GAP_PTS,
    "hours_per_week_for_50_80_treatments": [10.0, 15.0],
}

# Every count compute_metrics sums; rates are always built from these, so roll-ups stay weighted.
_COUNT_FIELDS: tuple[str, ...] = (
    "cohort_patients",
    "asked",
    "reached",
    "willing",
    "referred",
    "leads",
    "leads_contacted_within_sla",
    "leads_converted_90d",
    "referred_revenue",
    "leads_with_outcome",
    "loops_closed_within_sla",
    "referrers",
    "repeat_referrers",
    "referrers_loop_closed",
    "repeat_referrers_loop_closed",
    "referrers_loop_open",
    "repeat_referrers_loop_open",
    "minutes_logged",
    "contracted_hours_per_week",
    *(f"sla_due__{kind}" for kind in TASK_KINDS),
    *(f"sla_met__{kind}" for kind in TASK_KINDS),
    *(f"sla_open_breached__{kind}" for kind in TASK_KINDS),
)


def window_counts(
    conn: duckdb.DuckDBPyConnection,
    *,
    practices: Sequence[PracticeRow],
    start: datetime,
    end: datetime,
    as_of: datetime,
) -> dict[str, dict[str, float]]:
    """Every metric numerator and denominator per practice for the window [start, end)."""
    counts: dict[str, dict[str, float]] = {
        p.practice_slug: dict.fromkeys(_COUNT_FIELDS, 0) for p in practices
    }
    for p in practices:
        counts[p.practice_slug]["contracted_hours_per_week"] = p.contracted_hours_per_week
    if not practices:
        return counts
    params = {
        "slugs": [p.practice_slug for p in practices],
        "start": start,
        "end": end,
        "as_of": as_of,
    }
    for query in (_COHORT_SQL, _LEADS_SQL, _HOURS_SQL):
        result = conn.execute(query, params)
        names = [column[0] for column in result.description or []]
        for row in result.fetchall():
            record = dict(zip(names, row, strict=True))
            slug = str(record.pop("practice_slug"))
            counts[slug].update({k: float(v or 0) for k, v in record.items()})
    for slug, kind, due, met, breached in conn.execute(_SLA_SQL, params).fetchall():
        bucket = counts[str(slug)]
        if kind in TASK_KINDS:
            bucket[f"sla_due__{kind}"] = due
            bucket[f"sla_met__{kind}"] = met
            bucket[f"sla_open_breached__{kind}"] = breached
    return counts


def summed(counts: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Counts summed across practices: the only correct basis for an agency roll-up."""
    total = dict.fromkeys(_COUNT_FIELDS, 0.0)
    for bucket in counts:
        for key in _COUNT_FIELDS:
            total[key] += bucket[key]
    return total


def _weeks(start: datetime, end: datetime, as_of: datetime) -> float:
    """Weeks of the period that have happened by as_of (hours are only logged in the past)."""
    effective_end = min(end, as_of)
    return max((effective_end - start).total_seconds(), 0.0) / (7 * 86400)


def metrics_for_window(
    conn: duckdb.DuckDBPyConnection,
    *,
    practices: Sequence[PracticeRow],
    start: datetime,
    end: datetime,
    as_of: datetime,
) -> dict[str, Any]:
    """Per-practice metrics and their weighted roll-up for one window [start, end)."""
    counts = window_counts(conn, practices=practices, start=start, end=end, as_of=as_of)
    weeks = _weeks(start, end, as_of)
    rows = [
        {
            "practice_slug": p.practice_slug,
            "name": p.name,
            **metric_block(counts[p.practice_slug], weeks=weeks),
        }
        for p in practices
    ]
    total = summed([counts[p.practice_slug] for p in practices])
    agency = {
        "practices": len(practices),
        **metric_block(total, weeks=weeks),
    }
    return {"practices": rows, "agency": agency}


def compute_metrics(
    conn: duckdb.DuckDBPyConnection,
    *,
    scope: Scope,
    practice_slug: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> dict[str, Any]:
    """Every DOMAIN.md metric per practice in scope and the agency roll-up for one period."""
    as_of = snapshot_as_of(conn)
    period = resolve_period(as_of, date_from, date_to)
    practices = visible_practices(conn, scope=scope, practice_slug=practice_slug)
    window = metrics_for_window(
        conn, practices=practices, start=period.start, end=period.end, as_of=as_of
    )
    return {
        "as_of": as_of.isoformat(),
        "period": period.as_dict(),
        "benchmarks": copy.deepcopy(BENCHMARKS),
        **window,
    }


def before_after_onboarding(
    conn: duckdb.DuckDBPyConnection, *, scope: Scope, practice_slug: str
) -> dict[str, Any]:
    """The practice's metrics for the 12 months before onboarded_at and from it to as_of."""
    as_of = snapshot_as_of(conn)
    (practice,) = visible_practices(conn, scope=scope, practice_slug=practice_slug)
    onboarded = practice.onboarded_at
    if onboarded is None:
        return {"practice_slug": practice_slug, "onboarded_at": None, "before": None, "after": None}
    before_start = onboarded - timedelta(days=365)
    halves = {}
    for label, start, end in (
        ("before", before_start, onboarded),
        ("after", onboarded, max(as_of, onboarded)),
    ):
        window = metrics_for_window(
            conn, practices=[practice], start=start, end=end, as_of=as_of
        )
        (row,) = window["practices"]
        halves[label] = {"from": start.isoformat(), "to": end.isoformat(), "metrics": row}
    return {"practice_slug": practice_slug, "onboarded_at": onboarded.isoformat(), **halves}


_SCOPE_FILTER = "practice_slug in (select unnest(cast($slugs as varchar[])))"

# Cohort: patients whose treatment's results became visible in [start, end) and by as_of.
_COHORT_SQL = f"""
with per_patient as (
    select
        practice_slug,
        patient_id,
        bool_or(asked_30d) as asked,
        bool_or(asked_30d and reached_30d) as reached,
        bool_or(asked_30d and reached_30d and willing_30d) as willing,
        bool_or(referred_180d) as referred
    from mart_metric_cohort
    where {_SCOPE_FILTER}
        and results_visible_at >= $start
        and results_visible_at < $end
        and results_visible_at <= $as_of
    group by practice_slug, patient_id
)
select
    practice_slug,
    count(*) as cohort_patients,
    count(*) filter (where asked) as asked,
    count(*) filter (where reached) as reached,
    count(*) filter (where willing) as willing,
    count(*) filter (where referred) as referred
from per_patient
group by practice_slug
"""

# Leads created (referred_at) in [start, end); referrers whose first lead falls in it.
_LEADS_SQL = f"""
select
    practice_slug,
    count(*) as leads,
    count(*) filter (where contacted_within_sla) as leads_contacted_within_sla,
    count(*) filter (where converted_90d) as leads_converted_90d,
    coalesce(sum(booked_value) filter (where converted_90d), 0) as referred_revenue,
    count(*) filter (where has_outcome and referrer_patient_id is not null) as leads_with_outcome,
    count(*) filter (
        where has_outcome and referrer_patient_id is not null and loop_closed_within_sla
    ) as loops_closed_within_sla,
    count(*) filter (where referrer_lead_number = 1) as referrers,
    count(*) filter (where referrer_lead_number = 1 and referrer_lead_count >= 2)
        as repeat_referrers,
    count(*) filter (where referrer_lead_number = 1 and referrer_first_loop_closed)
        as referrers_loop_closed,
    count(*) filter (
        where referrer_lead_number = 1 and referrer_first_loop_closed and referrer_lead_count >= 2
    ) as repeat_referrers_loop_closed,
    count(*) filter (where referrer_lead_number = 1 and not referrer_first_loop_closed)
        as referrers_loop_open,
    count(*) filter (
        where referrer_lead_number = 1 and not referrer_first_loop_closed
            and referrer_lead_count >= 2
    ) as repeat_referrers_loop_open
from mart_metric_leads
where {_SCOPE_FILTER}
    and referred_at >= $start
    and referred_at < $end
    and referred_at <= $as_of
group by practice_slug
"""

# Coordinator minutes logged in [start, end); automated touches cost no coordinator time.
_HOURS_SQL = f"""
select practice_slug, coalesce(sum(minutes), 0) as minutes_logged
from stg_ops__touches
where {_SCOPE_FILTER}
    and coordinator_id is not null
    and started_at >= $start
    and started_at < $end
    and started_at <= $as_of
group by practice_slug
"""

# Tasks due in [start, end) whose outcome is decided: closed, or open past the deadline.
_SLA_SQL = f"""
select
    practice_slug,
    kind,
    count(*) filter (where not is_open or sla_deadline < $as_of) as due,
    count(*) filter (where met_sla) as met,
    count(*) filter (where is_open and sla_deadline < $as_of) as open_breached
from mart_sla_tasks
where {_SCOPE_FILTER}
    and not is_cancelled
    and sla_deadline >= $start
    and sla_deadline < $end
group by practice_slug, kind
"""


# The boards live in metrics_ops (one reason to change each); callers may import them from here.
from warehouse.metrics_ops import capacity, funnel_by_month, sla_board  # noqa: E402

__all__ = [
    "BENCHMARKS",
    "RATE_COUNTS",
    "RATE_KEYS",
    "TASK_KINDS",
    "Period",
    "PracticeRow",
    "UnknownPractice",
    "before_after_onboarding",
    "capacity",
    "compute_metrics",
    "default_period",
    "funnel_by_month",
    "metric_block",
    "metrics_for_window",
    "rate",
    "rate_counts",
    "resolve_period",
    "sla_board",
    "snapshot_as_of",
    "visible_practices",
]

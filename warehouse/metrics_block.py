"""One metric block (a practice's or the agency's): every DOMAIN.md metric as a number or null.

The block is flat so each metric name maps straight to its value; the numerators and
denominators behind every figure live in the block's `counts` (see `RATE_COUNTS`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from warehouse.metrics_base import TASK_KINDS

# Every flat rate of a block -> (numerator, denominator) count names in the block's `counts`.
RATE_COUNTS: dict[str, tuple[str, str]] = {
    "ask_rate": ("asked", "cohort_patients"),
    "reach_rate": ("reached", "asked"),
    "willingness_rate": ("willing", "reached"),
    "referral_rate": ("referred", "cohort_patients"),
    "lead_contact_sla_rate": ("leads_contacted_within_sla", "leads"),
    "lead_conversion_rate": ("leads_converted_90d", "leads"),
    "loop_closure_rate": ("loops_closed_within_sla", "leads_with_outcome"),
    "repeat_referral_rate": ("repeat_referrers", "referrers"),
    "repeat_referral_rate_loop_closed": ("repeat_referrers_loop_closed", "referrers_loop_closed"),
    "repeat_referral_rate_loop_not_closed": ("repeat_referrers_loop_open", "referrers_loop_open"),
}
RATE_KEYS: tuple[str, ...] = tuple(RATE_COUNTS)

# Counts that are amounts rather than whole numbers of things.
_FLOAT_COUNTS = frozenset({"referred_revenue", "minutes_logged", "contracted_hours_per_week"})


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None (undefined) when the denominator is empty."""
    return numerator / denominator if denominator else None


def sla_counts(kind: str) -> tuple[str, str]:
    """The (met, due) count names behind `sla_compliance[kind]`."""
    return f"sla_met__{kind}", f"sla_due__{kind}"


def rate_counts(block: Mapping[str, Any], key: str) -> tuple[float, float]:
    """The numerator and denominator behind the rate `key` of a metric block."""
    numerator, denominator = RATE_COUNTS[key]
    counts = block["counts"]
    return counts[numerator], counts[denominator]


def _typed_counts(counts: Mapping[str, float]) -> dict[str, float]:
    """Counts with whole numbers as ints (revenue, minutes and contracts stay floats)."""
    return {k: (float(v) if k in _FLOAT_COUNTS else int(v)) for k, v in counts.items()}


def metric_block(counts: Mapping[str, float], *, weeks: float) -> dict[str, Any]:
    """DOMAIN.md's metrics from summed counts (practices and roll-ups alike) plus the counts."""
    typed = _typed_counts(counts)
    rates = {key: ratio(typed[num], typed[den]) for key, (num, den) in RATE_COUNTS.items()}
    willingness, referral = rates["willingness_rate"], rates["referral_rate"]
    gap = (
        100.0 * (willingness - referral)
        if willingness is not None and referral is not None
        else None
    )
    hours = typed["minutes_logged"] / 60.0
    hours_per_week = hours / weeks if weeks > 0 else None
    contracted = float(typed["contracted_hours_per_week"])
    block: dict[str, Any] = {
        "cohort_patients": int(typed["cohort_patients"]),
        "ask_rate": rates["ask_rate"],
        "reach_rate": rates["reach_rate"],
        "willingness_rate": willingness,
        "referral_rate": referral,
        "intent_action_gap_pts": gap,
        "lead_contact_sla_rate": rates["lead_contact_sla_rate"],
        "lead_conversion_rate": rates["lead_conversion_rate"],
        "loop_closure_rate": rates["loop_closure_rate"],
        "referred_revenue": float(typed["referred_revenue"]),
        "repeat_referral_rate": rates["repeat_referral_rate"],
        "repeat_referral_rate_loop_closed": rates["repeat_referral_rate_loop_closed"],
        "repeat_referral_rate_loop_not_closed": rates["repeat_referral_rate_loop_not_closed"],
    }
    block["sla_compliance"] = {
        kind: ratio(typed[sla_counts(kind)[0]], typed[sla_counts(kind)[1]]) for kind in TASK_KINDS
    }
    block["open_breached"] = {
        kind: int(typed[f"sla_open_breached__{kind}"]) for kind in TASK_KINDS
    }
    block["hours_delivered"] = hours_per_week
    block["hours_contracted_per_week"] = contracted
    block["hours_ratio_to_contract"] = (
        hours_per_week / contracted if hours_per_week is not None and contracted else None
    )
    block["counts"] = {**typed, "hours_total": hours, "weeks": weeks}
    return block

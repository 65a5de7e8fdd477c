"""Priority: expected value per coordinator minute × SLA urgency × fair share (DOMAIN.md).

Every weight lives here, explained in docs/queue.md. Ranking is split in two so the database
can order by an index: `rank_key` is a *time-invariant* log priority within a kind (value ×
P(success) / minutes, with the exponential decay anchored at the epoch), stored on the task;
urgency and fair share depend on "now" and are applied in Python to a bounded top-K.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from console.models.work import TaskKind

if TYPE_CHECKING:  # polars is imported where the vectorised scores are computed: claiming,
    import polars as pl  # logging and the queue read precomputed rank keys, and start faster

from console.platform.wording import ago, countdown_text
from warehouse.rules import DEFAULT_P_REFER_GIVEN_ASKED

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
LN2 = math.log(2.0)

# Interest fades: half-life in days of a task's value since its `decay_from` moment
# (results visible for asks/follow-ups/reviews, referral time for leads, outcome for loops).
HALF_LIFE_DAYS: dict[str, float] = {
    TaskKind.ask: 30.0,
    TaskKind.follow_up: 30.0,
    TaskKind.review_request: 30.0,
    TaskKind.contact_lead: 3.0,
    TaskKind.close_loop: 14.0,
}
# Chance the call reaches the person and achieves its aim on the first attempt.
P_REACH: dict[str, float] = {
    TaskKind.ask: 0.5,
    TaskKind.follow_up: 0.4,
    TaskKind.contact_lead: 0.6,
    TaskKind.close_loop: 0.8,
    TaskKind.review_request: 0.5,
}
# Each further attempt is less likely to succeed than the last.
ATTEMPT_DECAY = 0.7
# Satisfaction 0..10 scales P(success) from 0.5 to 1.0; unknown counts as 0.85.
SATISFACTION_FLOOR, SATISFACTION_SLOPE, SATISFACTION_UNKNOWN = 0.5, 0.05, 0.85
# Minutes a call takes when the practice has no measured median yet.
DEFAULT_MINUTES: dict[str, float] = {
    TaskKind.ask: 8.0,
    TaskKind.follow_up: 6.0,
    TaskKind.contact_lead: 6.0,
    TaskKind.close_loop: 5.0,
    TaskKind.review_request: 4.0,
}
# A closed loop is worth part of a future referral (closed loops double repeat referrals).
CLOSE_LOOP_REFERRAL_SHARE = 0.5
# A review is worth a small fraction of a case.
REVIEW_VALUE_SHARE = 0.02
# Defaults for a practice without measured rates.
DEFAULT_CASE_VALUE, DEFAULT_LEAD_CONVERSION = 3000.0, 0.5
# P(refer | asked) with no asks yet: the prior mart_practice_rates uses too (warehouse/rules.py).
DEFAULT_P_REFER = DEFAULT_P_REFER_GIVEN_ASKED

# The learned queue (docs/queue.md "What the queue learns"): each rate is a beta-binomial
# estimate per cell of the touch history, shrunk towards a prior worth PRIOR_STRENGTH calls:
# estimate = (successes + PRIOR_STRENGTH × prior) / (trials + PRIOR_STRENGTH). The priors are
# today's constants, so with no history the queue ranks exactly as before; the seed model
# warehouse/models/staging/stg_seed__queue_priors.sql holds `prior_rows()` (a test checks).
PRIOR_STRENGTH = 20.0
SATISFACTION_BANDS: dict[str, tuple[float | None, float | None]] = {
    "unknown": (None, None), "0-4": (0, 4), "5-6": (5, 6), "7-8": (7, 8), "9-10": (9, 10),
}
WILLING_PRIOR = 0.6  # P(willing | reached) at satisfaction factor 1.0
NAMES_PRIOR = 0.5  # P(names a friend | willing)
ANSWER_PRIOR = {"patient": 0.5, "lead": 0.6}  # P(answer) at any local hour
LEAD_DELAY_BANDS: dict[str, float] = {"0-4h": 2.0, "4-24h": 14.0, "24-72h": 48.0, "72h+": 120.0}
MAX_LEARNED_ATTEMPT = 3  # attempts 3, 4, ... share the "3" cell
# The hour factor (answer rate now / the group's overall answer rate) is clipped to this.
HOUR_FACTOR_MIN, HOUR_FACTOR_MAX = 0.5, 2.0
# Holding a call for a better hour (docs/queue.md "Calling at the hour people answer"): a
# practice's patient calls wait while an hour later today, within HOLD_HORIZON_HOURS and one
# the team usually calls in, answers at least HOLD_GAIN times the learned rate of now. The team
# calls in a UTC hour when it did so on TEAM_HOUR_SHARE of its last TEAM_DAYS calling days
# (at least TEAM_MIN_DAYS of them); the `team_hour` cells count those days (prior 0: no hold).
HOLD_GAIN = 1.15
HOLD_HORIZON_HOURS = 12
TEAM_HOUR_SHARE, TEAM_DAYS, TEAM_MIN_DAYS = 0.5, 20, 3


def satisfaction_factor(score: float | None) -> float:
    """Today's satisfaction scaling of P(success): 0.5 + 0.05 × score, unknown 0.85."""
    if score is None:
        return SATISFACTION_UNKNOWN
    return min(1.0, max(SATISFACTION_FLOOR, SATISFACTION_FLOOR + SATISFACTION_SLOPE * score))


def prior_rows() -> list[tuple[str, str, str, float]]:
    """Every learned cell's prior: (measure, kind or group, band, prior)."""
    rows: list[tuple[str, str, str, float]] = []
    for kind, reach in P_REACH.items():
        for attempt in range(1, MAX_LEARNED_ATTEMPT + 1):
            rows.append(("answer_attempt", kind, str(attempt),
                         round(reach * ATTEMPT_DECAY ** (attempt - 1), 6)))
    for group, rate in ANSWER_PRIOR.items():
        rows.append(("answer_all", group, "all", rate))
        rows.extend(("answer_hour", group, str(hour), rate) for hour in range(24))
    for band, (low, high) in SATISFACTION_BANDS.items():
        mid = None if low is None or high is None else (low + high) / 2
        rows.append(("willing_satisfaction", "patient", band,
                     round(WILLING_PRIOR * satisfaction_factor(mid), 6)))
    rows.append(("willing_all", "patient", "all", round(WILLING_PRIOR * SATISFACTION_UNKNOWN, 6)))
    rows.append(("names_friend", "patient", "all", NAMES_PRIOR))
    for band, hours in LEAD_DELAY_BANDS.items():
        rows.append(("lead_answer_delay", "lead", band,
                     round(P_REACH[TaskKind.contact_lead]
                           * 0.5 ** (hours / 24.0 / HALF_LIFE_DAYS[TaskKind.contact_lead]), 6)))
    rows.append(("lead_book", "lead", "all", DEFAULT_LEAD_CONVERSION))
    rows.extend(("team_hour", "team", str(hour), 0.0) for hour in range(24))
    return rows


# Urgency by time left to the SLA deadline: (at most this much left, multiplier).
URGENCY_BREACHED = 4.0
# Few, wide bands on purpose: the queue fetches a top-K per (kind, band) from an index, and
# a narrow band would make that walk long (see console/work/ranking.py).
URGENCY_BANDS: tuple[tuple[timedelta, float], ...] = (
    (timedelta(hours=24), 2.0),
    (timedelta(hours=72), 1.4),
)
URGENCY_DEFAULT = 1.0
# Fair share: factor = 1 + SHARE_GAIN × (share of the pro-rated hours still owed), clamped.
# The clamp keeps max(non-breached urgency) × SHARE_MAX (2.5) below URGENCY_BREACHED ×
# SHARE_MIN (3.2): no fair-share lift puts a task above another practice's equal breach.
SHARE_GAIN, SHARE_MIN, SHARE_MAX = 0.5, 0.8, 1.25
assert URGENCY_BANDS[0][1] * SHARE_MAX < URGENCY_BREACHED * SHARE_MIN


def epoch_days(at: datetime) -> float:
    """Days since EPOCH (the anchor of the time-invariant rank key)."""
    return (at - EPOCH).total_seconds() / 86400.0


def value_expr() -> pl.Expr:
    """Value if the task succeeds, from `kind`, `case_value` and the practice's rate columns."""
    import polars as pl

    referral = pl.col("case_value") * pl.col("lead_conversion") * pl.col("p_refer_given_asked")
    return (
        pl.when(pl.col("kind").is_in([TaskKind.ask, TaskKind.follow_up]))
        .then(referral)
        .when(pl.col("kind") == TaskKind.contact_lead)
        .then(pl.col("case_value") * pl.col("lead_conversion"))
        .when(pl.col("kind") == TaskKind.close_loop)
        .then(referral * CLOSE_LOOP_REFERRAL_SHARE)
        .otherwise(pl.col("case_value") * REVIEW_VALUE_SHARE)
    )


def p_success_expr() -> pl.Expr:
    """P(success | kind, attempt, satisfaction); satisfaction only matters for patients."""
    import polars as pl

    satisfaction = (
        pl.when(pl.col("subject_type") == "lead")
        .then(pl.lit(1.0))
        .when(pl.col("satisfaction_score").is_null())
        .then(pl.lit(SATISFACTION_UNKNOWN))
        .otherwise(
            (SATISFACTION_FLOOR + SATISFACTION_SLOPE * pl.col("satisfaction_score")).clip(
                SATISFACTION_FLOOR, 1.0
            )
        )
    )
    reach = pl.col("kind").replace_strict(P_REACH, return_dtype=pl.Float64)
    return reach * pl.lit(ATTEMPT_DECAY).pow(pl.col("attempt") - 1) * satisfaction


def rank_key_expr() -> pl.Expr:
    """log(value × P / minutes) + ln2 × days(decay_from) / half-life: orders a kind for all time."""
    import polars as pl

    half_life = pl.col("kind").replace_strict(HALF_LIFE_DAYS, return_dtype=pl.Float64)
    anchored = (
        (pl.col("decay_from") - pl.lit(EPOCH)).dt.total_milliseconds().cast(pl.Float64)
        / 86_400_000.0
    )
    rate = (pl.col("value") * pl.col("p_success") / pl.col("expected_minutes")).clip(1e-9)
    return rate.log() + LN2 * anchored / half_life


def with_scores(frame: pl.DataFrame) -> pl.DataFrame:
    """Add `value`, `p_success` and `rank_key` to rows with the inputs those need.

    Optional `value_factor` / `p_factor` columns (console/scoring/learning.py `with_learned`) scale
    the value and P(success) by what the queue has learned; without them nothing changes.
    """
    import polars as pl

    value, p_success = value_expr(), p_success_expr()
    if "value_factor" in frame.columns:
        value = value * pl.col("value_factor")
    if "p_factor" in frame.columns:
        p_success = p_success * pl.col("p_factor")
    return (
        frame.with_columns(value=value, p_success=p_success)
        .with_columns(rank_key=rank_key_expr())
    )


def value_one(*, kind: str, case_value: float, lead_conversion: float,
              p_refer_given_asked: float) -> float:
    """`value_expr` for one task (the same formula, without polars: claims and logs start fast)."""
    referral = case_value * lead_conversion * p_refer_given_asked
    if kind in (TaskKind.ask, TaskKind.follow_up):
        return referral
    if kind == TaskKind.contact_lead:
        return case_value * lead_conversion
    if kind == TaskKind.close_loop:
        return referral * CLOSE_LOOP_REFERRAL_SHARE
    return case_value * REVIEW_VALUE_SHARE


def p_success_one(*, kind: str, attempt: int, subject_type: str,
                  satisfaction_score: float | None) -> float:
    """`p_success_expr` for one task."""
    if subject_type == "lead":
        satisfaction = 1.0
    elif satisfaction_score is None:
        satisfaction = SATISFACTION_UNKNOWN
    else:
        satisfaction = min(max(SATISFACTION_FLOOR + SATISFACTION_SLOPE * satisfaction_score,
                               SATISFACTION_FLOOR), 1.0)
    return P_REACH[kind] * ATTEMPT_DECAY ** (attempt - 1) * satisfaction


def rank_key_one(*, kind: str, value: float, p_success: float, expected_minutes: float,
                 decay_from: datetime) -> float:
    """`rank_key_expr` for one task."""
    delta = decay_from.astimezone(UTC) - EPOCH
    # polars' total_milliseconds truncates toward zero; do the same.
    milliseconds = (delta.days * 86_400_000 + delta.seconds * 1000
                    + int(delta.microseconds / 1000))
    rate = max(value * p_success / expected_minutes, 1e-9)
    return math.log(rate) + LN2 * (milliseconds / 86_400_000.0) / HALF_LIFE_DAYS[kind]


def base_priority(*, kind: str, rank_key: float, now: datetime) -> float:
    """Expected value per minute right now: the rank key with today's decay applied."""
    return math.exp(rank_key - LN2 * epoch_days(now) / HALF_LIFE_DAYS[kind])


def urgency(*, sla_deadline: datetime, now: datetime) -> float:
    """The SLA multiplier: rises as the deadline nears, highest once breached."""
    left = sla_deadline - now
    if left <= timedelta(0):
        return URGENCY_BREACHED
    for limit, multiplier in URGENCY_BANDS:
        if left <= limit:
            return multiplier
    return URGENCY_DEFAULT


@dataclass(frozen=True)
class Share:
    """A practice's standing against its contracted hours this week."""

    factor: float
    behind_hours: float


def fair_share(*, logged_minutes: float, contracted_hours: float, week_fraction: float) -> Share:
    """Lift a practice behind its pro-rated weekly hours, lower one ahead (clamped)."""
    owed_hours = contracted_hours * week_fraction
    behind = owed_hours - logged_minutes / 60.0
    if owed_hours <= 0:
        return Share(factor=1.0, behind_hours=behind)
    factor = min(SHARE_MAX, max(SHARE_MIN, 1.0 + SHARE_GAIN * behind / owed_hours))
    return Share(factor=factor, behind_hours=behind)


def explain(
    *,
    kind: str,
    category: str | None,
    case_value: float,
    decay_from: datetime,
    sla_deadline: datetime,
    attempt: int,
    share: Share,
    now: datetime,
    learned: str | None = None,
) -> list[str]:
    """A short list of reasons this task ranks where it does (no names, no phones).

    `learned` is what the queue learned that moved this task (e.g. the hour's answer rate).
    """
    origins: dict[str, str] = {
        TaskKind.contact_lead: "lead referred",
        TaskKind.close_loop: "lead outcome known",
    }
    origin = origins.get(kind, "results visible")
    what = f"{category.replace('_', ' ')} " if category else ""
    left = sla_deadline - now
    sla = f"SLA {countdown_text(left)}"
    reasons = [f"{origin} {ago(now - decay_from)}", f"${case_value:,.0f} {what}case", sla]
    if attempt > 1:
        reasons.append(f"attempt {attempt}")
    if abs(share.behind_hours) >= 0.5:
        side = "behind" if share.behind_hours > 0 else "ahead of"
        reasons.append(f"practice {abs(share.behind_hours):.0f} h {side} its hours this week")
    if learned:
        reasons.append(learned)
    return reasons

"""The queue that learns: turning mart_learned_rates into factors on today's priority.

Each learned cell is a beta-binomial estimate whose prior is today's constant (console/
priority.py `prior_rows`, the seed stg_seed__queue_priors). The queue uses ratios
estimate / prior, so a store with no call history ranks exactly as the hand-set constants
did, and a cell's pull grows with its evidence:
- P(success) × answer(kind, attempt) ratio, and for asks and follow-ups also × willing
  (satisfaction band) ratio × willing (category) / willing (all) × names-a-friend ratio;
- the value of a referral-bearing task (ask, follow-up, contact_lead, close_loop) × the
  lead_book ratio;
- at ranking time, × the hour factor: P(answer | person type, the practice's local hour now)
  / P(answer | person type), the hour shrunk towards the learned overall rate, clipped to
  [HOUR_FACTOR_MIN, HOUR_FACTOR_MAX] (console/work/ranking.py).
Everything here is vectorised over polars frames; the per-task loop is never in Python.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import polars as pl
from sqlalchemy import delete, insert, select
from sqlmodel import Session

from console.models.learning import LearnedRate
from console.scoring.learned import ASK_KINDS, REFERRAL_KINDS, HourFactors, Learned, hour_factors
from console.scoring.priority import MAX_LEARNED_ATTEMPT

_TABLE = LearnedRate.__table__  # type: ignore[attr-defined]
__all__ = ["HourFactors", "Learned", "hour_factors", "learned_table", "read_mart", "store",
           "with_learned"]


def satisfaction_band() -> pl.Expr:
    """The satisfaction band of a task's `satisfaction_score` (as the mart bands it)."""
    score = pl.col("satisfaction_score").cast(pl.Float64)
    return (
        pl.when(score.is_null()).then(pl.lit("unknown"))
        .when(score <= 4).then(pl.lit("0-4"))
        .when(score <= 6).then(pl.lit("5-6"))
        .when(score <= 8).then(pl.lit("7-8"))
        .otherwise(pl.lit("9-10"))
    )


def with_learned(frame: pl.DataFrame, learned: Learned) -> pl.DataFrame:
    """Add `p_factor` and `value_factor` columns (vectorised lookups; 1.0 where unknown)."""
    attempt_key = pl.concat_str(
        pl.col("kind").cast(pl.String),
        pl.col("attempt").cast(pl.Int64).clip(1, MAX_LEARNED_ATTEMPT).cast(pl.String),
        separator=":")
    attempt = attempt_key.replace_strict(learned.attempt, default=1.0, return_dtype=pl.Float64)
    satisfaction = satisfaction_band().replace_strict(learned.satisfaction, default=1.0,
                                                      return_dtype=pl.Float64)
    category = (pl.col("category").cast(pl.String).replace_strict(
        learned.category, default=1.0, return_dtype=pl.Float64)
        if "category" in frame.columns else pl.lit(1.0))
    asks = pl.col("kind").is_in(ASK_KINDS)
    return frame.with_columns(
        p_factor=attempt * pl.when(asks).then(satisfaction * category * learned.names)
        .otherwise(1.0),
        value_factor=pl.when(pl.col("kind").is_in(REFERRAL_KINDS)).then(pl.lit(learned.book))
        .otherwise(1.0),
    )


def read_mart(snapshot: duckdb.DuckDBPyConnection) -> pl.DataFrame | None:
    """mart_learned_rates from a snapshot, or None when the snapshot has none (older builds)."""
    found = snapshot.sql(
        "select count(*) from information_schema.tables where table_name = 'mart_learned_rates'"
    ).fetchall()
    if not found or not found[0][0]:
        return None
    return snapshot.sql("select * from mart_learned_rates").pl()


def store(*, session: Session, rates: pl.DataFrame, now: datetime) -> None:
    """Replace the learned rates in the operational store (inside the caller's transaction)."""
    session.execute(delete(_TABLE))
    rows = rates.select("measure", "cell_group", "band", "successes", "trials", "prior",
                        "estimate").with_columns(built_at=pl.lit(now)).to_dicts()
    if rows:
        session.execute(insert(_TABLE), rows)


def learned_table(session: Session) -> pl.DataFrame:
    """Every learned cell with its evidence count, for the managers' view."""
    rows = session.execute(select(
        _TABLE.c.measure, _TABLE.c.cell_group, _TABLE.c.band, _TABLE.c.successes,
        _TABLE.c.trials, _TABLE.c.prior, _TABLE.c.estimate, _TABLE.c.built_at)).all()
    return pl.DataFrame(
        [tuple(row) for row in rows],
        schema={"measure": pl.String, "cell_group": pl.String, "band": pl.String,
                "successes": pl.Int64, "trials": pl.Int64, "prior": pl.Float64,
                "estimate": pl.Float64, "built_at": pl.Datetime("us", "UTC")},
        orient="row",
    )

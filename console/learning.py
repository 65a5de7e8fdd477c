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
  [HOUR_FACTOR_MIN, HOUR_FACTOR_MAX] (console/ranking.py).
Everything here is vectorised over polars frames; the per-task loop is never in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import polars as pl
from sqlalchemy import delete, insert, select
from sqlmodel import Session

from console.models.learning import LearnedRate
from console.priority import (
    HOUR_FACTOR_MAX,
    HOUR_FACTOR_MIN,
    MAX_LEARNED_ATTEMPT,
    PRIOR_STRENGTH,
)

_TABLE = LearnedRate.__table__  # type: ignore[attr-defined]
REFERRAL_KINDS = ("ask", "follow_up", "contact_lead", "close_loop")
ASK_KINDS = ("ask", "follow_up")
_HOURS = (
    select(_TABLE.c.cell_group, _TABLE.c.band, _TABLE.c.measure, _TABLE.c.estimate,
           _TABLE.c.successes, _TABLE.c.trials)
    .where(_TABLE.c.measure.in_(("answer_hour", "answer_all")))
)


@dataclass(frozen=True)
class Learned:
    """The ratios the queue applies (all 1.0 when nothing is learned)."""

    attempt: dict[str, float] = field(default_factory=dict)  # "kind:attempt" -> ratio
    satisfaction: dict[str, float] = field(default_factory=dict)  # band -> ratio
    category: dict[str, float] = field(default_factory=dict)  # category -> ratio
    names: float = 1.0
    book: float = 1.0

    @classmethod
    def from_frame(cls, rates: pl.DataFrame) -> Learned:
        """From rows shaped like mart_learned_rates (measure, cell_group, band, prior, estimate)."""
        if rates.is_empty():
            return cls()
        ratio = rates.with_columns(
            ratio=pl.when(pl.col("prior") > 0).then(pl.col("estimate") / pl.col("prior"))
            .otherwise(1.0))

        def cells(measure: str, key: pl.Expr) -> dict[str, float]:
            part = ratio.filter(pl.col("measure") == measure)
            return dict(zip(part.select(key.alias("k"))["k"], part["ratio"], strict=True))

        overall = ratio.filter(pl.col("measure") == "willing_all")["estimate"]
        willing_all = float(overall[0]) if overall.len() else None
        categories = ratio.filter(pl.col("measure") == "willing_category")
        category = (dict(zip(categories["band"], categories["estimate"] / willing_all,
                             strict=True)) if willing_all else {})
        names = cells("names_friend", pl.col("band")).get("all", 1.0)
        book = cells("lead_book", pl.col("band")).get("all", 1.0)
        return cls(
            attempt=cells("answer_attempt", pl.concat_str("cell_group", "band", separator=":")),
            satisfaction=cells("willing_satisfaction", pl.col("band")),
            category=category, names=names, book=book,
        )

    def close_to(self, other: Learned, tolerance: float = 0.005) -> bool:
        """Whether every ratio is within `tolerance` of the other's (then nothing is re-scored)."""
        def near(a: dict[str, float], b: dict[str, float]) -> bool:
            return all(abs(a.get(k, 1.0) - b.get(k, 1.0)) <= tolerance for k in {*a, *b})
        return (near(self.attempt, other.attempt) and near(self.satisfaction, other.satisfaction)
                and near(self.category, other.category)
                and abs(self.names - other.names) <= tolerance
                and abs(self.book - other.book) <= tolerance)

    @classmethod
    def load(cls, session: Session) -> Learned:
        """The learned ratios in the operational store (refresh keeps them)."""
        rows = session.execute(select(_TABLE.c.measure, _TABLE.c.cell_group, _TABLE.c.band,
                                      _TABLE.c.prior, _TABLE.c.estimate)).all()
        return cls.from_frame(_frame(rows))


def _frame(rows: Any) -> pl.DataFrame:
    return pl.DataFrame(
        [tuple(row) for row in rows],
        schema={"measure": pl.String, "cell_group": pl.String, "band": pl.String,
                "prior": pl.Float64, "estimate": pl.Float64},
        orient="row",
    )


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


@dataclass(frozen=True)
class HourFactors:
    """P(answer | person type, local hour) / P(answer | person type), with the evidence."""

    factors: dict[tuple[str, int], float] = field(default_factory=dict)
    rates: dict[tuple[str, int], tuple[float, int]] = field(default_factory=dict)

    def factor(self, group: str, hour: int) -> float:
        """The multiplier for a person type at a local hour (1.0 when nothing is learned)."""
        return self.factors.get((group, hour), 1.0)


def hour_factors(session: Session) -> HourFactors:
    """The hour factors from the store: one small read (≤ 50 rows).

    An hour's rate is shrunk towards its group's *learned* overall rate (not the constant),
    so an hour nobody was called at has factor 1.0: only evidence about that hour moves it.
    """
    rows = session.execute(_HOURS).all()
    overall = {row.cell_group: float(row.estimate) for row in rows if row.measure == "answer_all"}
    factors: dict[tuple[str, int], float] = {}
    rates: dict[tuple[str, int], tuple[float, int]] = {}
    for row in rows:
        base = overall.get(row.cell_group)
        if row.measure != "answer_hour" or not base or not row.trials:
            continue
        key = (row.cell_group, int(row.band))
        rate = (float(row.successes) + PRIOR_STRENGTH * base) / (row.trials + PRIOR_STRENGTH)
        factors[key] = min(HOUR_FACTOR_MAX, max(HOUR_FACTOR_MIN, rate / base))
        rates[key] = (rate, int(row.trials))
    return HourFactors(factors=factors, rates=rates)


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

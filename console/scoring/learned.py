"""What the queue has learned, as the claim and log paths use it (no polars, no DuckDB).

`Learned` holds the ratios estimate / prior the queue applies to today's priority (docs/
queue.md "What the queue learns"); `HourFactors` the learned hour factor ranking applies.
Both are read from the operational table `learned_rates` that refresh fills from
mart_learned_rates (console/scoring/learning.py holds the vectorised side).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlmodel import Session

from console.models.learning import LearnedRate
from console.models.work import TaskKind
from console.scoring.priority import (
    HOLD_GAIN,
    HOLD_HORIZON_HOURS,
    HOUR_FACTOR_MAX,
    HOUR_FACTOR_MIN,
    MAX_LEARNED_ATTEMPT,
    PRIOR_STRENGTH,
    TEAM_HOUR_SHARE,
    TEAM_MIN_DAYS,
)

_TABLE = LearnedRate.__table__  # type: ignore[attr-defined]
REFERRAL_KINDS = (TaskKind.ask, TaskKind.follow_up, TaskKind.contact_lead, TaskKind.close_loop)
ASK_KINDS = (TaskKind.ask, TaskKind.follow_up)
_RATES = select(_TABLE.c.measure, _TABLE.c.cell_group, _TABLE.c.band, _TABLE.c.prior,
                _TABLE.c.estimate)
_HOURS = (
    select(_TABLE.c.cell_group, _TABLE.c.band, _TABLE.c.measure, _TABLE.c.estimate,
           _TABLE.c.successes, _TABLE.c.trials)
    .where(_TABLE.c.measure.in_(("answer_hour", "answer_all", "team_hour")))
)
# What identifies the table's content without reading it: refresh replaces every row at
# once (delete, insert with one `built_at`), so the row count, the newest `built_at` and the
# sums of the estimates, priors and evidence change whenever the rates do.
_STAMP = select(func.count(), func.max(_TABLE.c.built_at),
                *(func.coalesce(func.sum(column), 0)
                  for column in (_TABLE.c.estimate, _TABLE.c.prior, _TABLE.c.trials)))
# Per store (its URL): the stamp the cached ratios were read at, and the ratios.
_LOADED: dict[str, tuple[tuple[Any, ...], Learned]] = {}
# The calling window of the contact gate (console/gate.py CALL_WINDOW), as local hours.
_WINDOW_HOURS = range(8, 21)


def satisfaction_band_one(score: float | None) -> str:
    """The satisfaction band of one score (as mart_learned_rates bands it)."""
    if score is None:
        return "unknown"
    if score <= 4:
        return "0-4"
    if score <= 6:
        return "5-6"
    if score <= 8:
        return "7-8"
    return "9-10"


@dataclass(frozen=True)
class Learned:
    """The ratios the queue applies (all 1.0 when nothing is learned)."""

    attempt: dict[str, float] = field(default_factory=dict)  # "kind:attempt" -> ratio
    satisfaction: dict[str, float] = field(default_factory=dict)  # band -> ratio
    category: dict[str, float] = field(default_factory=dict)  # category -> ratio
    names: float = 1.0
    book: float = 1.0

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> Learned:
        """From rows shaped like mart_learned_rates (measure, cell_group, band, prior, estimate)."""
        cells: dict[str, dict[str, float]] = {}
        estimates: dict[tuple[str, str], float] = {}
        for row in rows:
            prior, estimate = float(row["prior"]), float(row["estimate"])
            ratio = estimate / prior if prior > 0 else 1.0
            measure = str(row["measure"])
            key = (f"{row['cell_group']}:{row['band']}" if measure == "answer_attempt"
                   else str(row["band"]))
            cells.setdefault(measure, {})[key] = ratio
            estimates[(measure, str(row["band"]))] = estimate
        if not cells:
            return cls()
        willing_all = estimates.get(("willing_all", "all"))
        category = ({band: estimate / willing_all for (measure, band), estimate
                     in estimates.items() if measure == "willing_category"}
                    if willing_all else {})
        return cls(
            attempt=cells.get("answer_attempt", {}),
            satisfaction=cells.get("willing_satisfaction", {}),
            category=category,
            names=cells.get("names_friend", {}).get("all", 1.0),
            book=cells.get("lead_book", {}).get("all", 1.0),
        )

    @classmethod
    def from_frame(cls, rates: Any) -> Learned:
        """From a polars frame shaped like mart_learned_rates."""
        return cls.from_rows(rates.iter_rows(named=True))

    @classmethod
    def load(cls, session: Session) -> Learned:
        """The learned ratios in the operational store (refresh keeps them).

        Read again only when the table's version stamp (`_STAMP`: one aggregate row) differs
        from the one the process last read them at, so the log path's follow-ups do not
        re-read and rebuild the same ratios call after call.
        """
        stamp = tuple(session.execute(_STAMP).one())
        store = str(session.get_bind().engine.url)
        cached = _LOADED.get(store)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        learned = cls.from_rows(dict(row._mapping) for row in session.execute(_RATES))
        _LOADED[store] = (stamp, learned)
        return learned

    def close_to(self, other: Learned, tolerance: float = 0.005) -> bool:
        """Whether every ratio is within `tolerance` of the other's (then nothing is re-scored)."""
        def near(a: dict[str, float], b: dict[str, float]) -> bool:
            return all(abs(a.get(k, 1.0) - b.get(k, 1.0)) <= tolerance for k in {*a, *b})
        return (near(self.attempt, other.attempt) and near(self.satisfaction, other.satisfaction)
                and near(self.category, other.category)
                and abs(self.names - other.names) <= tolerance
                and abs(self.book - other.book) <= tolerance)

    def p_factor_one(self, *, kind: str, attempt: int, satisfaction_score: float | None,
                     category: str | None) -> float:
        """The learned factor on one task's P(success) (`learning.with_learned`'s twin)."""
        factor = self.attempt.get(f"{kind}:{min(max(attempt, 1), MAX_LEARNED_ATTEMPT)}", 1.0)
        if kind in ASK_KINDS:
            factor *= (self.satisfaction.get(satisfaction_band_one(satisfaction_score), 1.0)
                       * self.category.get(category or "", 1.0) * self.names)
        return factor

    def value_factor_one(self, kind: str) -> float:
        """The learned factor on one task's value."""
        return self.book if kind in REFERRAL_KINDS else 1.0


@dataclass(frozen=True)
class HourFactors:
    """P(answer | person type, local hour) / P(answer | person type), with the evidence."""

    factors: dict[tuple[str, int], float] = field(default_factory=dict)
    rates: dict[tuple[str, int], tuple[float, int]] = field(default_factory=dict)
    team_hours: frozenset[int] = frozenset()  # UTC hours the team usually calls in

    def factor(self, group: str, hour: int) -> float:
        """The multiplier for a person type at a local hour (1.0 when nothing is learned)."""
        return self.factors.get((group, hour), 1.0)

    def better_hour(self, group: str, zone: str, now: datetime) -> datetime | None:
        """A later team hour today at which `group` in `zone` answers ≥ HOLD_GAIN × now's rate.

        Only hours with learned evidence are compared (rates shrunk towards the group's
        learned overall rate, as the factors are), within HOLD_HORIZON_HOURS, in the gate's
        calling window of the zone, and among the UTC hours the team usually calls in.
        """
        if not self.team_hours or not self.factors:
            return None
        tz = ZoneInfo(zone)
        here = now.astimezone(tz)
        current = self.factor(group, here.hour)
        top = now.replace(minute=0, second=0, microsecond=0)
        best: tuple[float, datetime] | None = None
        for step in range(1, HOLD_HORIZON_HOURS + 1):
            at = top + timedelta(hours=step)
            if at.astimezone(tz).hour not in _WINDOW_HOURS:
                continue
            if int(at.astimezone(ZoneInfo("UTC")).hour) not in self.team_hours:
                continue
            if (group, at.astimezone(tz).hour) not in self.factors:
                continue
            later = self.factor(group, at.astimezone(tz).hour)
            if later >= HOLD_GAIN * current and (best is None or later > best[0]):
                best = (later, at)
        return best[1] if best is not None else None


def held_zones(hours: HourFactors, zones: Sequence[str], now: datetime) -> list[str]:
    """Zones whose patient calls wait for a better hour later today (docs/queue.md)."""
    return [zone for zone in zones if hours.better_hour("patient", zone, now) is not None]


def hour_factors(session: Session) -> HourFactors:
    """The hour factors from the store: one small read (≤ 50 rows).

    An hour's rate is shrunk towards its group's *learned* overall rate (not the constant),
    so an hour nobody was called at has factor 1.0: only evidence about that hour moves it.
    """
    rows = session.execute(_HOURS).all()
    overall = {row.cell_group: float(row.estimate) for row in rows if row.measure == "answer_all"}
    team = [row for row in rows if row.measure == "team_hour"]
    days = max((int(row.trials) for row in team), default=0)
    team_hours = (frozenset(int(row.band) for row in team
                            if int(row.successes) >= TEAM_HOUR_SHARE * days)
                  if days >= TEAM_MIN_DAYS else frozenset())
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
    return HourFactors(factors=factors, rates=rates, team_hours=team_hours)

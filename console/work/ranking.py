"""Ranking open tasks for a scope: a bounded top-K the indexes serve, scored in Python.

Priority = base (value × P / minutes, decayed to now) × urgency × fair share. The base's
order within a kind never changes (`rank_key` is time-invariant, stored and indexed), and
urgency is constant inside each band of time-to-deadline (priority.URGENCY_BANDS). So one
statement fetches, for every (kind, urgency band), the K tasks with the highest rank key;
Python applies decay, urgency and fair share to that window. Any task outside the window
has base ≤ the K-th of its (kind, band) and that band's urgency, so when the wanted tasks
beat that bound the order is exact; otherwise K widens once and the wider window is used.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    Float,
    Select,
    String,
    and_,
    bindparam,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.engine import Engine, Row
from sqlmodel import Session

from console.contact.gate import CALL_WINDOW, GateResult, Person, check_gates
from console.models.learning import LearnedRate
from console.models.practice import PracticeSettings
from console.models.types import UTCDateTime
from console.models.work import Task, TaskKind, TaskStatus, Touch
from console.scoring.learned import HourFactors, held_zones, hour_factors
from console.scoring.priority import (
    HALF_LIFE_DAYS,
    HOLD_HORIZON_HOURS,
    LN2,
    SHARE_MAX,
    URGENCY_BANDS,
    URGENCY_BREACHED,
    URGENCY_DEFAULT,
    Share,
    epoch_days,
    fair_share,
)
from loopdesk_core.business_hours import iso_week_start, local, working_week_share
from warehouse.scope import Scope

TOP_K_START, TOP_K_MAX = 16, 64
# Rows the merge returns beyond the wanted ones, so fair share can reorder near the cut.
WINDOW_SLACK = 16
_TASKS = Task.__table__  # type: ignore[attr-defined]
_PRACTICES = PracticeSettings.__table__  # type: ignore[attr-defined]
_TOUCHES = Touch.__table__  # type: ignore[attr-defined]
_LEARNED = LearnedRate.__table__  # type: ignore[attr-defined]
_COLUMNS = (
    "task_id", "kind", "practice_slug", "practice_tz", "subject_type", "subject_id", "rank_key",
    "sla_deadline", "due_at", "decay_from", "category", "case_value", "attempt", "consent_call",
    "do_not_contact", "status", "escalated", "claim_version",
)  # fmt: skip
# What a claim reads of a ranked row (the window, the gate, the lease, the published window;
# an adopted window's rows carry only task id, claim version and practice): the claim's
# ranking converts no other column (`ranked(claim=True)`; two of the three timestamps).
_CLAIM_COLUMNS = (
    "task_id", "practice_slug", "practice_tz", "subject_type", "subject_id", "sla_deadline",
    "consent_call", "do_not_contact", "claim_version",
)  # fmt: skip
# Urgency bands (breached, each URGENCY_BANDS step, the rest) as the names of their
# (lower, upper] deadline edges; edge i is now + _OFFSETS[i]; None is unbounded.
_BAND_EDGES: tuple[tuple[str | None, str | None], ...] = (
    (None, "edge0"),
    *((f"edge{i}", f"edge{i + 1}") for i in range(len(URGENCY_BANDS))),
    (f"edge{len(URGENCY_BANDS)}", None),
)
_OFFSETS = (timedelta(0), *(limit for limit, _ in URGENCY_BANDS))
_PARTS = [(kind, band) for kind in HALF_LIFE_DAYS for band in range(len(_BAND_EDGES))]
_BAND_URGENCY = (URGENCY_BREACHED, *(multiplier for _, multiplier in URGENCY_BANDS),
                 URGENCY_DEFAULT)


@dataclass
class Scored:
    """A candidate task with its priority now, its practice's share and its gate verdict."""

    row: Row[Any]
    priority: float
    share: Share
    gate: GateResult = field(default_factory=lambda: GateResult(True))
    hour_note: str | None = None  # what the queue learned about this hour, for "why first"

    @property
    def person(self) -> Person:
        """The person a call on this task would reach."""
        return Person(
            practice_slug=self.row.practice_slug,
            subject_type=self.row.subject_type,
            subject_id=self.row.subject_id,
            consented=self.row.consent_call,
            do_not_contact=self.row.do_not_contact,
        )


def workable(now: Any, *, escalated: bool, callable_only: bool) -> list[Any]:
    """The one "open and callable" rule, as conditions on the tasks table at `now` (a bound
    parameter or a value): open (not held, done or cancelled), due, not snoozed past `now`,
    and not escalated unless the user works escalated tasks; with `callable_only` also
    consented to calls and not do-not-contact. Ranking, the claim's conditional UPDATE and
    the queue preview's counts all filter with it. (The calling window is the caller's: it
    depends on each practice's zone, which ranking binds as the open zones.)"""
    tasks = _TASKS.c
    rule = [
        tasks.status == TaskStatus.open,
        tasks.due_at <= now,
        or_(tasks.snoozed_until.is_(None), tasks.snoozed_until <= now),
    ]
    if not escalated:
        rule.append(tasks.escalated.is_(False))
    if callable_only:
        rule += [tasks.consent_call.is_(True), tasks.do_not_contact.is_(False)]
    return rule


# The kinds a zone's hold for a better hour applies to: patient calls, never leads.
HELD_KINDS = tuple(kind for kind in HALF_LIFE_DAYS if kind != TaskKind.contact_lead)


def hold_exempt(kind: str, now: Any, hold_until: Any) -> Any:
    """The one exemption from a zone's hold (learned.held_zones), for a task of `kind`: a
    patient call still goes out when its SLA deadline comes before `hold_until` (now +
    HOLD_HORIZON_HOURS) or, for a follow-up, when the person asked for a time (a callback)."""
    tasks = _TASKS.c
    exempt = and_(tasks.sla_deadline > now, tasks.sla_deadline <= hold_until)
    if kind == TaskKind.follow_up:
        exempt = or_(exempt, tasks.natural_key.like("follow_up:%:callback:%"))
    return exempt


def held_calls(now: datetime) -> Any:
    """Tasks the ranking holds for a better hour at `now` (given the task is workable and
    its zone is one of `held_zones`): a held kind, not exempt. A read-only condition on the
    tasks table, for views that count or mark what the claim will not hand out yet."""
    tasks = _TASKS.c
    hold_until = now + timedelta(hours=HOLD_HORIZON_HOURS)
    return or_(*(and_(tasks.kind == kind, not_(hold_exempt(kind, now, hold_until)))
                 for kind in HELD_KINDS))


def _in_list(column: Any, name: str, postgres: bool, count: int = 0) -> Any:
    """`column IN (:name)`; on PostgreSQL `= any(:name)`, one statement text for any length.

    On SQLite with `count` > 0: `IN (:name_0, …, :name_<count-1>)`, one bound parameter per
    value (`_in_params` binds them). The database sees the same text as the expanding form
    (`IN (?, ?, …)`), but SQLAlchemy need not re-render the statement at every execution
    (its "post-compile" pass over the whole text: ~15 % of a ranking's time in the
    simulator, whose top-K statement holds one such list per part). Statements are built per
    list length (a handful: time zones open, practices in a scope)."""
    if postgres:
        return column == func.any(bindparam(name, type_=ARRAY(String())))
    if count > 0:
        return column.in_([bindparam(f"{name}_{i}") for i in range(count)])
    return column.in_(bindparam(name, expanding=True))


def _in_params(name: str, values: Sequence[str], postgres: bool) -> dict[str, Any]:
    """The parameters of an `_in_list(…, count=len(values))` condition."""
    if postgres or not values:
        return {name: list(values)}
    return {f"{name}_{i}": value for i, value in enumerate(values)}


@lru_cache(maxsize=64)
def _candidates(*, scoped: bool, callable_only: bool, escalated: bool,
                postgres: bool, holding: bool = False, zones: int = 0, call_zones: int = 0,
                slugs: int = 0, claim: bool = False) -> Select[Any]:
    """The one top-K statement for a kind of scope (built once; parameters bound per call).
    `zones`, `call_zones`, `slugs`: the lengths of those lists on SQLite (`_in_list`);
    `claim`: only the columns a claim reads (`_CLAIM_COLUMNS`).

    Each (kind, band) part yields its K best rank keys, tagged with its score (rank key +
    the part's log decay and urgency now, bound as `c<part>`), how many rows it yielded and
    its lowest rank key; the database merges the parts and returns the best `n` by score.
    """
    tasks = _TASKS.c
    now = bindparam("now", type_=UTCDateTime())

    def available(kind: str) -> Select[Any]:
        query = (
            select(tasks.task_id, tasks.practice_slug, tasks.rank_key)
            .where(tasks.kind == kind)
            .where(*workable(now, escalated=escalated, callable_only=callable_only))
        )
        if callable_only:
            query = query.where(_in_list(tasks.practice_tz, "zones", postgres, zones))
            if holding and kind in HELD_KINDS:
                # (Only this variant reads the natural key outside the covering index.)
                hold_until = bindparam("hold_until", type_=UTCDateTime())
                query = query.where(or_(_in_list(tasks.practice_tz, "call_zones", postgres,
                                                 call_zones),
                                        hold_exempt(kind, now, hold_until)))
        return query

    parts = []
    for part, (kind, band) in enumerate(_PARTS):
        low, high = _BAND_EDGES[band]
        query = available(kind)
        # The band test wraps the deadline so planners walk the rank index and filter (a
        # band holding a fraction f of the tasks costs K / f rows) rather than range-scan
        # the deadline index and sort every task in the band.
        deadline = (tasks.sla_deadline if scoped and postgres
                    else func.coalesce(tasks.sla_deadline, tasks.sla_deadline))
        if low is not None:
            query = query.where(deadline > bindparam(low, type_=UTCDateTime()))
        if high is not None:
            query = query.where(deadline <= bindparam(high, type_=UTCDateTime()))
        if scoped and postgres:
            # One short walk of the per-practice rank index per practice, merged; an
            # `IN`/`ANY` over the practices makes PostgreSQL scan and sort whole practices.
            slug = (func.unnest(bindparam("slugs", type_=ARRAY(String())))
                    .table_valued("slug").render_derived(name="scope_practices"))
            inner = (
                query.where(tasks.practice_slug == slug.c.slug)
                .order_by(tasks.rank_key.desc()).limit(bindparam("k")).lateral()
            )
            window = (
                select(*inner.c).select_from(slug).join(inner, true())
                .order_by(inner.c.rank_key.desc()).limit(bindparam("k")).subquery()
            )
        else:
            if scoped:
                query = query.where(_in_list(tasks.practice_slug, "slugs", postgres, slugs))
            window = query.order_by(tasks.rank_key.desc()).limit(bindparam("k")).subquery()
        parts.append(
            select(
                *window.c,
                literal(part).label("part"),
                (window.c.rank_key + bindparam(f"c{part}", type_=Float())).label("score"),
                func.count().over().label("filled"),
                func.min(window.c.rank_key).over().label("lowest"),
            )
        )
    merged = union_all(*parts).subquery()
    best = (
        select(merged.c.task_id, merged.c.part, merged.c.score, merged.c.filled,
               merged.c.lowest)
        .order_by(merged.c.score.desc(), merged.c.task_id)
        .limit(bindparam("n"))
        .subquery()
    )
    # Only the best `n` rows read the table; the parts above walk the covering indexes.
    return (
        select(*(tasks[name] for name in (_CLAIM_COLUMNS if claim else _COLUMNS)),
               best.c.part, best.c.score, best.c.filled, best.c.lowest)
        .join_from(best, _TASKS, tasks.task_id == best.c.task_id)
        .order_by(best.c.score.desc(), best.c.task_id)
    )


_ZONES = select(_PRACTICES.c.timezone).distinct()


def open_zones(session: Session, now: datetime) -> list[str]:
    """Practice time zones whose local time is inside the calling window now."""
    return _open_of(session.execute(_ZONES).scalars().all(), now)


def _open_of(zones: Sequence[str], now: datetime) -> list[str]:
    """Those of `zones` whose local time is inside the calling window now."""
    start, end = CALL_WINDOW
    return [z for z in zones if start <= local(now, z).time() < end]


# The hour factors' rows (learned.hour_factors reads them) identified without reading them:
# refresh replaces the learned rates at once, so the count, newest `built_at` and the sums
# of what the factors are computed from move whenever they do.
_HOUR_MEASURES = ("answer_hour", "answer_all", "team_hour")
_HOUR_STAMP = (
    select(func.count(), func.max(_LEARNED.c.built_at),
           *(func.coalesce(func.sum(column), 0) for column in (
               _LEARNED.c.estimate, _LEARNED.c.successes, _LEARNED.c.trials)))
    .where(_LEARNED.c.measure.in_(_HOUR_MEASURES))
)
_HOURS_READ: weakref.WeakKeyDictionary[Engine, tuple[tuple[Any, ...], HourFactors]] = (
    weakref.WeakKeyDictionary())


def _hour_factors(session: Session) -> HourFactors:
    """`learned.hour_factors`, read again only when the rows' stamp (`_HOUR_STAMP`, one
    aggregate row) moved since this process last read them from the store."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    stamp = tuple(session.execute(_HOUR_STAMP).one())
    cached = _HOURS_READ.get(engine)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    hours = hour_factors(session)
    _HOURS_READ[engine] = (stamp, hours)
    return hours


def _week_minutes() -> Any:
    """Minutes logged for the outer practice this week (a correlated scalar subquery)."""
    touches = _TOUCHES.c
    return (
        select(func.sum(touches.minutes))
        .where(touches.practice_slug == _PRACTICES.c.practice_slug)
        .where(touches.started_at >= bindparam("week_start", type_=UTCDateTime()))
        .where(touches.started_at <= bindparam("now", type_=UTCDateTime()))
        .scalar_subquery()
    )


# Zone, contracted hours, contact caps and this week's logged minutes of some practices:
# built once per dialect, one statement for what ranking and the gate need to know about
# practices (the slugs an array on PostgreSQL: one cached, prepared text for any count).
@lru_cache(maxsize=64)
def _facts(postgres: bool, count: int = 0) -> Select[Any]:
    return (
        select(_PRACTICES.c.practice_slug, _PRACTICES.c.timezone,
               _PRACTICES.c.contracted_hours_per_week, _PRACTICES.c.max_touches_per_day,
               _PRACTICES.c.max_touches_per_week, _PRACTICES.c.business_hours_start,
               _PRACTICES.c.business_hours_end, _week_minutes().label("week_minutes"))
        .where(_in_list(_PRACTICES.c.practice_slug, "slugs", postgres, count))
    )


# Up to this many practices, facts are read with one bound parameter per slug (`_in_list`).
FACTS_LISTED = 64


def practice_facts(session: Session, slugs: set[str], now: datetime) -> dict[str, Row[Any]]:
    """Zone, contracted hours, contact caps and minutes logged this (UTC, ISO) week."""
    postgres = session.get_bind().dialect.name == "postgresql"
    listed = sorted(slugs)
    count = len(listed) if not postgres and len(listed) <= FACTS_LISTED else 0
    rows = session.execute(
        _facts(postgres, count),
        (_in_params("slugs", listed, postgres) if count else {"slugs": listed})
        | {"week_start": iso_week_start(now), "now": now},
    ).all()
    return {row.practice_slug: row for row in rows}


def shares(practices: dict[str, Row[Any]], now: datetime) -> dict[str, Share]:
    """Each practice's fair-share standing this week, from `practice_facts` rows.

    The factor pro-rates the contract by the calendar (UTC, ISO) week gone by. The hours a
    card shows ("practice 8 h behind its hours this week") pro-rate it by the practice's
    working week (Mon-Fri business hours in its zone), as Capacity and My queue's idle
    suggestion do, so one practice reads one figure everywhere. Ranking by the working week
    too was measured and not kept (docs/queue.md, fair share)."""
    calendar = (now - iso_week_start(now)) / timedelta(days=7)
    working: dict[tuple[str, str, str], float] = {}  # practices share a few zones and hours

    def standing(row: Row[Any]) -> Share:
        logged = float(row.week_minutes or 0.0)
        contract = float(row.contracted_hours_per_week)
        key = (row.timezone, row.business_hours_start, row.business_hours_end)
        if key not in working:
            working[key] = working_week_share(now, *key)
        share = fair_share(logged_minutes=logged, contracted_hours=contract,
                           week_fraction=calendar)
        return Share(factor=share.factor, behind_hours=contract * working[key] - logged / 60.0)

    return {slug: standing(row) for slug, row in practices.items()}


def _part_constants(now: datetime) -> list[float]:
    """Per part, log(decay to now × band urgency): score = rank key + this constant."""
    days = epoch_days(now)
    return [
        math.log(_BAND_URGENCY[band]) - LN2 * days / HALF_LIFE_DAYS[kind]
        for kind, band in _PARTS
    ]


def ranked(
    session: Session, *, scope: Scope, now: datetime, callable_only: bool, escalated: bool,
    wanted: int, claim: bool = False,
) -> tuple[list[Scored], dict[str, Row[Any]]]:
    """Open, due, unsnoozed tasks in the scope, best first (see module docstring); with
    `claim`, rows of only the columns a claim reads (`_CLAIM_COLUMNS`)."""
    if not scope.agency_wide and not scope.practice_slugs:
        return [], {}
    postgres = session.get_bind().dialect.name == "postgresql"
    hours = _hour_factors(session)
    held: list[str] = []
    # The practices' zones, read once for the calling window and the hour factor's bound.
    all_zones: Sequence[str] | None = None
    zones: list[str] = []
    if callable_only:
        all_zones = session.execute(_ZONES).scalars().all()
        zones = _open_of(all_zones, now)
        if not zones:
            return [], {}
        held = held_zones(hours, zones, now)
    slugs = [] if scope.agency_wide else sorted(scope.practice_slugs)
    call_zones = [zone for zone in zones if zone not in held] if held else []
    listed = not postgres and len(slugs) <= FACTS_LISTED
    statement = _candidates(
        scoped=not scope.agency_wide, callable_only=callable_only, escalated=escalated,
        postgres=postgres, holding=bool(held), zones=0 if postgres else len(zones),
        call_zones=0 if postgres else len(call_zones),
        slugs=len(slugs) if listed else 0, claim=claim)
    constants = _part_constants(now)
    params: dict[str, Any] = (
        {"now": now}
        | {f"edge{i}": now + offset for i, offset in enumerate(_OFFSETS)}
        | {f"c{part}": constant for part, constant in enumerate(constants)}
    )
    if not scope.agency_wide:
        params |= _in_params("slugs", slugs, postgres) if listed else {"slugs": slugs}
    if callable_only:
        params |= _in_params("zones", zones, postgres)
    if held:
        params |= _in_params("call_zones", call_zones, postgres)
        params["hold_until"] = now + timedelta(hours=HOLD_HORIZON_HOURS)
    # A list view needs `wanted` rows from the best parts; a claim needs one.
    k = max(TOP_K_START, wanted)
    n = wanted + WINDOW_SLACK
    lift = _largest_hour_factor(session, hours, now, all_zones)
    while True:
        rows = session.execute(statement, params | {"k": k, "n": n}).all()
        scored, practices = _score(session, rows, now, hours)
        bound = _bound(rows, k, n, constants) * lift
        certain = len(scored) >= wanted and scored[wanted - 1].priority >= bound
        if certain or bound == 0.0 or k >= max(TOP_K_MAX, wanted):
            return scored, practices
        k *= 4
        n *= 4


def _bound(rows: Sequence[Row[Any]], k: int, n: int, constants: Sequence[float]) -> float:
    """The highest priority any task not in `rows` could have (0.0 if none can exist).

    A task left out of a part has a rank key at most that part's lowest; a task of the
    window the merge cut off scores at most the last row returned. Either may belong to
    the practice with the largest fair-share lift.
    """
    scores = [
        row.lowest + constants[row.part] for row in rows if row.filled == k
    ]
    if len(rows) == n:
        scores.append(rows[-1].score)
    return math.exp(max(scores)) * SHARE_MAX if scores else 0.0


def _group(subject_type: str) -> str:
    return "lead" if subject_type == "lead" else "patient"


def _largest_hour_factor(session: Session, hours: HourFactors, now: datetime,
                         zones: Sequence[str] | None = None) -> float:
    """The largest learned hour factor any practice's task could have now (1.0 if none);
    `zones`: the practices' zones, when the caller read them."""
    if not hours.factors:
        return 1.0
    if zones is None:
        zones = session.execute(_ZONES).scalars().all()
    local_hours = {local(now, zone).hour for zone in zones}
    return max((hours.factor(group, hour) for group in ("patient", "lead")
                for hour in local_hours), default=1.0)


def _hour_note(hours: HourFactors, group: str, hour: int) -> str | None:
    """E.g. "answers 45% at this hour (318 calls)" when the hour matters (≥ 10% either way)."""
    rate = hours.rates.get((group, hour))
    if rate is None or abs(hours.factor(group, hour) - 1.0) < 0.1:
        return None
    return f"answers {rate[0]:.0%} at this hour ({rate[1]:,} calls)"


def _score(
    session: Session, rows: Sequence[Row[Any]], now: datetime,
    hours: HourFactors | None = None,
) -> tuple[list[Scored], dict[str, Row[Any]]]:
    """Apply each practice's fair share (and the learned hour factor) to the window's scores."""
    practices = practice_facts(session, {row.practice_slug for row in rows}, now)
    standing = shares(practices, now)
    learned = hours if hours is not None and hours.factors else None
    local_hour = ({zone: local(now, zone).hour for zone in {row.practice_tz for row in rows}}
                  if learned is not None else {})
    scored = []
    # (group, zone) -> the hour factor and note there now: the same for every row of the pair.
    by_pair: dict[tuple[str, str], tuple[float, str | None]] = {}
    for row in rows:
        share = standing.get(row.practice_slug)
        if share is None:
            continue
        priority = math.exp(row.score) * share.factor
        note = None
        if learned is not None:
            group = _group(row.subject_type)
            found = by_pair.get((group, row.practice_tz))
            if found is None:
                hour = local_hour[row.practice_tz]
                found = by_pair[(group, row.practice_tz)] = (
                    learned.factor(group, hour), _hour_note(learned, group, hour))
            priority *= found[0]
            note = found[1]
        scored.append(Scored(row=row, priority=priority, share=share, hour_note=note))
    scored.sort(key=lambda s: (-s.priority, s.row.sla_deadline, s.row.task_id))
    return scored, practices


def gate_all(session: Session, scored: Sequence[Scored], practices: dict[str, Row[Any]],
             now: datetime) -> None:
    """Fill in each candidate's call gate (two queries for the whole batch)."""
    people = [s.person for s in scored]  # (built once each: a Person per access otherwise)
    results = check_gates(session=session, people=people, channel="call",
                          practices=practices, now=now)
    for item, person in zip(scored, people, strict=True):
        item.gate = results[person.key]

"""The contact gate: consent, opt-outs, quiet hours and fatigue caps (DOMAIN.md, SECURITY 20)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import ARRAY, String, and_, bindparam, func, literal_column, or_, select, tuple_
from sqlmodel import Session

from console.models.types import UTCDateTime
from console.models.work import ConsentEvent, Touch
from loopdesk_core.business_hours import local, local_day_start

CALL_WINDOW = (time(8, 0), time(21, 0))
# Agency-wide ceilings; a practice may configure lower ones, never higher.
MAX_TOUCHES_PER_DAY = 1
MAX_TOUCHES_PER_WEEK = 3
# Consent channels; touches record `sms` where consent speaks of `text`.
TOUCH_CHANNEL_TO_CONSENT = {"call": "call", "sms": "text", "text": "text", "email": "email"}
# Inbound replies are not touches the agency made.
NOT_A_TOUCH = ("replied",)


class GatePractice(Protocol):
    """What the gate needs to know about a practice (PracticeSettings or a row of it)."""

    @property
    def timezone(self) -> str: ...
    @property
    def max_touches_per_day(self) -> int: ...
    @property
    def max_touches_per_week(self) -> int: ...


@dataclass(frozen=True)
class GateResult:
    """Whether a person may be contacted on a channel now, and if not, why."""

    ok: bool
    reason: str | None = None


@dataclass(frozen=True)
class Person:
    """Someone the agency might contact, with the consent the export (or lead form) gave.

    `consented` defaults to False: where no consent is known for the channel the gate refuses
    (docs/data-contract.md, consent defaults). Callers state what the source recorded.
    """

    practice_slug: str
    subject_type: str
    subject_id: str
    consented: bool = False
    do_not_contact: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        """(practice, subject type, subject id)."""
        return (self.practice_slug, self.subject_type, self.subject_id)


def evaluate_gate(
    *,
    consented: bool,
    do_not_contact: bool,
    local_time: time,
    touches_today: int,
    touches_this_week: int,
    max_per_day: int,
    max_per_week: int,
) -> GateResult:
    """The gate's rules over facts already gathered (pure)."""
    if do_not_contact:
        return GateResult(False, "do not contact")
    if not consented:
        return GateResult(False, "no consent for this channel")
    start, end = CALL_WINDOW
    if not start <= local_time < end:
        return GateResult(False, f"outside 08:00-21:00 local time ({local_time:%H:%M})")
    if touches_today >= min(max_per_day, MAX_TOUCHES_PER_DAY):
        return GateResult(False, REFUSED_TODAY)
    if touches_this_week >= min(max_per_week, MAX_TOUCHES_PER_WEEK):
        return GateResult(False, REFUSED_THIS_WEEK)
    return GateResult(True, None)


# The fatigue caps' refusals: the only ones that cannot lift before the local day ends.
REFUSED_TODAY = "already contacted today"
REFUSED_THIS_WEEK = "weekly contact limit reached"
CAP_REFUSALS = frozenset({REFUSED_TODAY, REFUSED_THIS_WEEK})


def cap_stamp(practice: GatePractice, now: datetime) -> tuple[str, datetime, int, int]:
    """What a fatigue-cap refusal at `now` rests on besides the person's touches: the
    practice's zone, the start of its local day (the week's start follows from it) and its
    caps. A cap refusal (`CAP_REFUSALS`) seen at `seen` still holds at any `now >= seen` with
    an equal stamp: touches are only ever added (never deleted or moved; written at or after
    their `started_at`), so the counts since the day's and the week's start only grow, and
    every rule checked before the caps can only refuse. Once the local day ends (or the
    caps or zone change) the person must be gated again."""
    return (practice.timezone, local_day_start(now, practice.timezone),
            practice.max_touches_per_day, practice.max_touches_per_week)


_CONSENT = ConsentEvent.__table__.c  # type: ignore[attr-defined]
_TOUCH = Touch.__table__.c  # type: ignore[attr-defined]
# Built once per dialect: the claim path gates every batch, and building these per call
# cost more CPU than running them. The people are one parameter whatever their number: a
# JSON array of [practice, subject type, subject id] read by `json_each` (SQLite) or three
# arrays `unnest`ed (PostgreSQL: one statement text, which psycopg caches and prepares), and
# rows are matched on the whole (practice, subject type, subject id) key, which walks the
# subject index once per person. (Before, subject ids and practices were two separate
# lists: their cross product — subject ids repeat across practices — read every touch of
# the practices in the 8 days, ~10× the rows for ~50 people of 12 practices.)
def _people_in(columns: tuple[Any, Any, Any], postgres: bool) -> Any:
    """`(practice, subject type, subject id) IN` the people bound by `_people_params`."""
    if postgres:
        people = (func.unnest(*(bindparam(name, type_=ARRAY(String()))
                                for name in ("people_p", "people_t", "people_s")))
                  .table_valued("p", "t", "s").render_derived(name="people"))
        listed = select(people.c.p, people.c.t, people.c.s)
    else:
        each = func.json_each(bindparam("people", type_=String())).table_valued("value")
        listed = select(*(func.json_extract(each.c.value, literal_column(f"'$[{i}]'"))
                          for i in range(3)))
    return tuple_(*columns).in_(listed)


def _people_params(people: list[Person], postgres: bool) -> dict[str, Any]:
    """The parameters of `_people_in` for `people`."""
    if postgres:
        return {"people_p": [p.practice_slug for p in people],
                "people_t": [p.subject_type for p in people],
                "people_s": [p.subject_id for p in people]}
    return {"people": json.dumps([list(p.key) for p in people])}


@lru_cache(maxsize=2)
def _revoked_statement(postgres: bool) -> Any:
    return (
        select(_CONSENT.practice_slug, _CONSENT.subject_type, _CONSENT.subject_id,
               _CONSENT.granted)
        .where(_people_in((_CONSENT.practice_slug, _CONSENT.subject_type, _CONSENT.subject_id),
                          postgres))
        .where(_CONSENT.channel == bindparam("channel"))
        .order_by(_CONSENT.at, _CONSENT.event_id)
    )


@lru_cache(maxsize=2)
def _touch_times_statement(postgres: bool) -> Any:
    return (
        select(_TOUCH.practice_slug, _TOUCH.subject_type, _TOUCH.subject_id, _TOUCH.started_at)
        .where(_people_in((_TOUCH.practice_slug, _TOUCH.subject_type, _TOUCH.subject_id),
                          postgres))
        .where(_TOUCH.started_at >= bindparam("since", type_=UTCDateTime()))
        .where(_TOUCH.started_at <= bindparam("now", type_=UTCDateTime()))
        .where(or_(_TOUCH.disposition.is_(None), _TOUCH.disposition.not_in(NOT_A_TOUCH)))
    )


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _revoked(session: Session, people: list[Person], channel: str) -> set[tuple[str, str, str]]:
    """People whose latest consent event on `channel` is a revocation."""
    if not people:
        return set()
    postgres = _postgres(session)
    rows = session.execute(_revoked_statement(postgres),
                           _people_params(people, postgres) | {"channel": channel}).all()
    latest = {(r.practice_slug, r.subject_type, r.subject_id): r.granted for r in rows}
    return {key for key, granted in latest.items() if not granted}


def _touch_times(
    session: Session, people: list[Person], now: datetime
) -> dict[tuple[str, str, str], list[datetime]]:
    """Outbound touch times in the last 8 days per person (any kind, any channel)."""
    if not people:
        return {}
    postgres = _postgres(session)
    rows = session.execute(
        _touch_times_statement(postgres),
        _people_params(people, postgres) | {"since": now - timedelta(days=8), "now": now},
    ).all()
    times: dict[tuple[str, str, str], list[datetime]] = {}
    for practice_slug, subject_type, subject_id, started_at in rows:
        times.setdefault((practice_slug, subject_type, subject_id), []).append(started_at)
    return times


def check_gates(
    *,
    session: Session,
    people: Iterable[Person],
    channel: str,
    practices: Mapping[str, GatePractice],
    now: datetime,
) -> dict[tuple[str, str, str], GateResult]:
    """The gate for many people at once (two queries), keyed by `Person.key`."""
    consent_channel = TOUCH_CHANNEL_TO_CONSENT[channel]
    unique = list({p.key: p for p in people}.values())
    revoked = _revoked(session, unique, consent_channel)
    touches = _touch_times(session, unique, now)
    results: dict[tuple[str, str, str], GateResult] = {}
    # (The local day, its week and the local time depend only on the practice: worked out
    # once per practice, not per person.)
    days: dict[str, tuple[datetime, datetime, time]] = {}
    for person in unique:
        practice = practices[person.practice_slug]
        day = days.get(person.practice_slug)
        if day is None:
            today = local_day_start(now, practice.timezone)
            day = days[person.practice_slug] = (today, today - timedelta(days=6),
                                                local(now, practice.timezone).time())
        today, week, local_time = day
        stamps = touches.get(person.key, ())
        touches_today = sum(1 for t in stamps if t >= today)
        results[person.key] = evaluate_gate(
            consented=person.consented and person.key not in revoked,
            do_not_contact=person.do_not_contact,
            local_time=local_time,
            touches_today=touches_today,
            touches_this_week=sum(1 for t in stamps if t >= week),
            max_per_day=practice.max_touches_per_day,
            max_per_week=practice.max_touches_per_week,
        )
    return results


@dataclass(frozen=True)
class CallBounds:
    """A practice's call-gate limits at one moment, for the gate stated in SQL
    (`call_gate_conditions`): the start of its local day and of its 7-day week (UTC), and
    the touches allowed in each (the agency ceilings applied)."""

    day_start: datetime
    week_start: datetime
    per_day: int
    per_week: int


def call_hours_ok(now: datetime, timezone: str) -> bool:
    """Whether `now` is inside the calling window in `timezone` (the gate's hours rule)."""
    start, end = CALL_WINDOW
    return start <= local(now, timezone).time() < end


def call_bounds(practice: GatePractice, now: datetime) -> CallBounds:
    """`practice`'s call-gate limits at `now` (the same day, week and caps `check_gates` uses)."""
    today = local_day_start(now, practice.timezone)
    return CallBounds(day_start=today, week_start=today - timedelta(days=6),
                      per_day=min(practice.max_touches_per_day, MAX_TOUCHES_PER_DAY),
                      per_week=min(practice.max_touches_per_week, MAX_TOUCHES_PER_WEEK))


def call_gate_conditions(*, practice_slug: Any, subject_type: Any, subject_id: Any,
                         now: Any, day_start: Any, week_start: Any, per_day: Any,
                         per_week: Any) -> list[Any]:
    """The call gate's database rules as SQL conditions on a person's columns (a claim's
    lease states them in its conditional UPDATE, so the re-check is one statement with the
    lease): the latest call-consent event is not a revocation, and fewer outbound touches
    than allowed since the local day's and the week's start (`call_bounds`). Consent on the
    task and do-not-contact are the lease's `workable` rule; the hours are `call_hours_ok`.
    Equal to `check_gates` for the call channel (tests/console/work/test_claim_gate_sql.py)."""

    # (Short aliases: the lease statement stays under psycopg's 4 kB statement cache limit.)
    touch = Touch.__table__.alias("h").c  # type: ignore[attr-defined]
    consent = ConsentEvent.__table__.alias("ce").c  # type: ignore[attr-defined]

    def touches_since(start: Any) -> Any:
        return (
            select(func.count())
            .where(touch.practice_slug == practice_slug, touch.subject_type == subject_type,
                   touch.subject_id == subject_id, touch.started_at >= start,
                   touch.started_at <= now,
                   # (`!=` per value: an expanding `NOT IN` is re-rendered per execution)
                   or_(touch.disposition.is_(None),
                       and_(*(touch.disposition != value for value in NOT_A_TOUCH))))
            .scalar_subquery()
        )

    latest_consent = (
        select(consent.granted)
        .where(consent.practice_slug == practice_slug, consent.subject_type == subject_type,
               consent.subject_id == subject_id,
               consent.channel == TOUCH_CHANNEL_TO_CONSENT["call"])
        .order_by(consent.at.desc(), consent.event_id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return [latest_consent.is_not(False), touches_since(day_start) < per_day,
            touches_since(week_start) < per_week]


def check_gate(
    *,
    session: Session,
    practice: GatePractice,
    person: Person,
    channel: str,
    now: datetime,
) -> GateResult:
    """The gate for one person on one channel (`call`, `sms`/`text` or `email`) now."""
    results = check_gates(
        session=session,
        people=[person],
        channel=channel,
        practices={person.practice_slug: practice},
        now=now,
    )
    return results[person.key]

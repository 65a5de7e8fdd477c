"""How a simulated coordinator picks the next call: the real queue, or a comparison order.

`priority` is `console.work.claims.claim_next` itself. `fifo` and `oracle` change only the *order*:
they read the same callable tasks the queue would (open, due, unsnoozed, not escalated, call
consent, no do-not-contact, practice inside its calling window), order them their own way,
and lease the first with the same conditional UPDATE as `claim_next`
(`claims._lease_first_free`, which re-checks the contact gate's rules in the statement) and
the same audit event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Row
from sqlmodel import Session

from console.identity import audit
from console.identity.access import CurrentUser
from console.identity.audit import Action, Outcome
from console.models.types import UTCDateTime
from console.models.work import Task
from console.platform.db import begin_write, is_postgres
from console.work.claims import (
    CLAIM_BATCH,
    _callable_candidates,
    _lease,
    _lease_params,
    _lease_statement,
    claim_next,
)
from console.work.ranking import CALL_WINDOW, Scored, Share, open_zones, practice_facts, workable
from loopdesk_core.business_hours import local

POLICIES = ("fifo", "priority", "oracle")
OrderKey = Callable[[Row[Any], datetime], float]  # higher first
_T = Task.__table__  # type: ignore[attr-defined]


_NEEDED = ("task_id", "claim_version", "kind", "practice_slug", "practice_tz", "subject_type",
           "subject_id", "lead_id", "consent_call", "do_not_contact", "attempt", "category",
           "satisfaction_score", "case_value", "decay_from", "source_task_id")


@lru_cache(maxsize=64)
def _callable_query(zones: int, oldest_first: bool) -> Any:
    """The callable tasks of some open zones (`now`, the zones as `zone_<i>`, and a page's
    `limit` / `offset` when oldest first, are bound per call): built once per number of
    zones (`zones`), not per claim. One bound parameter per zone, as `ranking._in_list`
    does on SQLite: the same `IN (?, …)` text as a list, without SQLAlchemy re-rendering
    it at every execution."""
    now = bindparam("now", type_=UTCDateTime())
    query = (
        select(*(_T.c[name] for name in _NEEDED))
        .where(*workable(now, escalated=False, callable_only=True))
        .where(_T.c.practice_tz.in_([bindparam(f"zone_{i}") for i in range(zones)]))
    )
    if oldest_first:
        query = (query.order_by(_T.c.decay_from, _T.c.task_id)
                 .offset(bindparam("offset")).limit(bindparam("limit")))
    return query


def _open(zones: Sequence[str] | None, session: Session, now: datetime) -> list[str]:
    """`ranking.open_zones`, from the practices' zones when the caller already read them."""
    if zones is None:
        return open_zones(session, now)
    start, end = CALL_WINDOW
    return [z for z in zones if start <= local(now, z).time() < end]


def _callable_rows(session: Session, now: datetime, *, oldest_first: bool = False,
                   limit: int | None = None, offset: int = 0,
                   zones: Sequence[str] | None = None) -> list[Row[Any]]:
    zones = _open(zones, session, now)
    if not zones:
        return []
    params: dict[str, Any] = {"now": now} | {f"zone_{i}": zone for i, zone in enumerate(zones)}
    if oldest_first:
        params |= {"limit": limit if limit is not None else -1, "offset": offset}
    return list(session.execute(_callable_query(len(zones), oldest_first), params).all())


FIFO_PAGE = 64


def claim_ordered(*, session: Session, user: CurrentUser, now: datetime, key: OrderKey | None,
                  zones: Sequence[str] | None = None) -> Task | None:
    """Lease the best callable task by `key` (same gate, same lease, same audit as claim_next).

    Without a key the order is oldest trigger first, read from the database a page at a time.
    `zones`: the practices' time zones, when the caller keeps them (read otherwise).
    """
    facts: dict[str, Row[Any]] = {}
    if key is None:
        offset = 0
        while True:
            page = _callable_rows(session, now, oldest_first=True, limit=FIFO_PAGE,
                                  offset=offset, zones=zones)
            if not page:
                session.rollback()
                return None
            task = _lease_best(session, user, page, now, facts)
            if task is not None:
                return task
            offset += FIFO_PAGE
    rows = sorted(_callable_rows(session, now, zones=zones),
                  key=lambda row: (-key(row, now), row.task_id))
    task = _lease_best(session, user, rows, now, facts) if rows else None
    if task is None:
        session.rollback()
    return task


# The comparison orders do not weigh a practice's fair share (the lease does not read it).
_UNWEIGHTED = Share(factor=1.0, behind_hours=0.0)


def _lease_best(session: Session, user: CurrentUser, rows: list[Row[Any]], now: datetime,
                facts: dict[str, Row[Any]]) -> Task | None:
    """Lease the first of `rows`, in order, still free and let through by the contact gate.

    The lease's conditional UPDATE states the call gate's database rules itself (consent not
    revoked, the day's and week's touches under the caps: `gate.call_gate_conditions`, equal
    to `check_gates` for calls) and candidates outside their practice's calling hours or
    without settings are dropped first (`claims._callable_candidates`, as
    `claims._lease_first_free` does), so the rows go to the lease a batch at a time in order,
    without a separate gate query first: the first row that passes is the one leased.

    One write transaction holds all of a claim's batches, and the practices' facts (zone,
    caps) are read once per claim into `facts` for the practices not read yet — the same
    rows `_lease_first_free` reads per batch (nothing is written between the batches).
    """
    lease = _lease()
    postgres = is_postgres(session)
    statement = _lease_statement(escalated=False, postgres=postgres)
    begin_write(session)
    missing = {row.practice_slug for row in rows} - facts.keys()
    if missing:
        facts.update(practice_facts(session, missing, now))
    for first in range(0, len(rows), CLAIM_BATCH):
        batch = [Scored(row=row, priority=0.0, share=_UNWEIGHTED)
                 for row in rows[first:first + CLAIM_BATCH]]
        candidates = _callable_candidates(batch, facts, now)
        if not candidates:
            continue
        leased = session.connection().execute(
            statement, _lease_params(user=user, candidates=candidates, now=now, lease=lease,
                                     postgres=postgres)).first()
        if leased is None:
            continue
        audit.record(session=session, actor=user.actor, action=Action.claim,
                     practice_slug=leased.practice_slug, object_ref=f"task:{leased.task_id}",
                     outcome=Outcome.success, now=now)
        session.commit()
        return Task(**leased._asdict())
    session.commit()
    return None


def claim(*, policy: str, session: Session, user: CurrentUser, now: datetime,
          oracle: OrderKey | None = None, zones: Sequence[str] | None = None) -> Task | None:
    """The next task for `user` under `policy` (`zones`: see `claim_ordered`)."""
    if policy == "priority":
        return claim_next(session=session, user=user, now=now)
    if policy == "fifo":
        return claim_ordered(session=session, user=user, now=now, key=None, zones=zones)
    if policy == "oracle" and oracle is not None:
        return claim_ordered(session=session, user=user, now=now, key=oracle, zones=zones)
    raise ValueError(f"unknown policy {policy!r}")

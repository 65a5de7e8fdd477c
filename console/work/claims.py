"""The shared work queue: who may work what, ranking a bounded top-K, and leased claims."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache, partial
from typing import Any

from sqlalchemy import (
    ARRAY,
    Integer,
    String,
    and_,
    bindparam,
    cast,
    func,
    insert,
    literal,
    literal_column,
    or_,
    true,
    union_all,
    update,
)
from sqlalchemy import select as select_columns
from sqlalchemy.engine import Row
from sqlmodel import Session, col

from console.contact.gate import CallBounds, call_bounds, call_gate_conditions, call_hours_ok
from console.identity import audit
from console.identity.access import CurrentUser
from console.identity.audit import Action, Outcome
from console.models.identity import AuditEvent
from console.models.types import UTCDateTime
from console.models.work import Task, TaskStatus
from console.platform.db import (
    autocommitted,
    begin_write,
    grouped_write,
    is_postgres,
    keeping_rankings,
)
from console.platform.errors import UserError
from console.scoring.priority import explain
from console.work import window
from console.work.ranking import Scored, gate_all, practice_facts, ranked, workable
from loopdesk_core.settings import get_settings
from warehouse.scope import Scope

# A task whose lease lapsed this many times without a disposition goes to a manager.
ESCALATE_AFTER_CLAIMS = 3
# Candidates gated and offered to one conditional UPDATE per attempt (best first). 16, the
# ranking window's slack: 16 claimers who ranked the same window all lease on the first try.
CLAIM_BATCH = 16
# When a whole window is refused by the gate, the claim ranks 4× deeper, up to this many.
CLAIM_MAX_DEPTH = window.WINDOW_MAX_DEPTH


_TASKS = Task.__table__  # type: ignore[attr-defined]
_EVENTS = AuditEvent.__table__  # type: ignore[attr-defined]
# Statements on the claim path are built once (building them per call cost more CPU than
# running them); values are bound per call.
_LAPSED = (
    select_columns(_TASKS.c.task_id)
    .where(_TASKS.c.status == TaskStatus.claimed)
    .where(_TASKS.c.lease_expires_at <= bindparam("now", type_=UTCDateTime()))
    .limit(1)
)


class StaleClaim(UserError):
    """The caller no longer holds the task at that claim version (lease lost or never held)."""


@dataclass
class QueueEntry:
    """One task as a user sees it in the queue."""

    task_id: int
    kind: str
    practice_slug: str
    priority: float
    why: list[str]
    due_at: datetime
    sla_deadline: datetime
    callable_now: bool
    gate_reason: str | None
    status: str
    escalated: bool

    def to_json(self) -> dict[str, Any]:
        """The `loopdesk queue --json` shape of this entry."""
        return {
            "task_id": self.task_id,
            "kind": self.kind,
            "practice_slug": self.practice_slug,
            "priority": round(self.priority, 4),
            "why": self.why,
            "due_at": self.due_at.isoformat(),
            "sla_deadline": self.sla_deadline.isoformat(),
            "callable_now": self.callable_now,
            "gate_reason": self.gate_reason,
            "status": self.status,
            "escalated": self.escalated,
        }


def expire_leases(*, session: Session, now: datetime) -> int:
    """Return lapsed leases to the queue (escalating chronic ones); the caller commits."""
    result = session.execute(
        update(Task)
        .execution_options(synchronize_session=False)
        .where(col(Task.status) == TaskStatus.claimed)
        .where(col(Task.lease_expires_at) <= now)
        .values(
            status=TaskStatus.open,
            claimed_by=None,
            lease_expires_at=None,
            escalated=or_(col(Task.escalated), col(Task.claim_count) >= ESCALATE_AFTER_CLAIMS),
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def list_queue(*, session: Session, user: CurrentUser, now: datetime,
               limit: int = 50) -> list[QueueEntry]:
    """Open tasks the user may work (`user.work_scope`), best first, each with its gate
    verdict and reasons."""
    scored, practices = ranked(session, scope=user.work_scope, now=now, callable_only=False,
                               escalated=user.sees_escalated, wanted=limit)
    shown = scored[:limit]
    gate_all(session, shown, practices, now)
    return [
        QueueEntry(
            task_id=s.row.task_id,
            kind=s.row.kind,
            practice_slug=s.row.practice_slug,
            priority=s.priority,
            why=explain(kind=s.row.kind, category=s.row.category, case_value=s.row.case_value,
                        decay_from=s.row.decay_from, sla_deadline=s.row.sla_deadline,
                        attempt=s.row.attempt, share=s.share, now=now,
                        learned=s.hour_note),
            due_at=s.row.due_at,
            sla_deadline=s.row.sla_deadline,
            callable_now=s.gate.ok,
            gate_reason=s.gate.reason,
            status=s.row.status,
            escalated=s.row.escalated,
        )
        for s in shown
    ]


@lru_cache(maxsize=1)
def _lease() -> timedelta:
    """The configured lease length, read once per process (building Settings costs ~3 ms)."""
    return timedelta(minutes=get_settings().lease_minutes)


def _sweep_lapsed(session: Session, now: datetime) -> None:
    """Return lapsed leases to the queue, taking the writer lock only when one has lapsed."""
    lapsed = session.execute(_LAPSED, {"now": now}).first()
    if lapsed is None:
        return
    begin_write(session)
    expire_leases(session=session, now=now)
    session.commit()


_SLOT_COLUMNS = ("id", "version", "day_start", "week_start", "per_day", "per_week")
_SLOT_TYPES = (Integer, Integer, UTCDateTime, UTCDateTime, Integer, Integer)


def _slots_sqlite() -> Any:
    """SQLite: the candidates as CLAIM_BATCH rows of bound values (`id{i}`, `v{i}`, `d{i}`,
    `w{i}`, `cd{i}`, `cw{i}`), one fixed statement text."""
    prefixes = ("id", "v", "d", "w", "cd", "cw")
    return union_all(*(
        select_columns(literal(i, Integer()).label("ord"), *(
            bindparam(f"{prefix}{i}", type_=kind()).label(name)
            for prefix, name, kind in zip(prefixes, _SLOT_COLUMNS, _SLOT_TYPES, strict=True)))
        for i in range(CLAIM_BATCH)
    )).cte("candidates")


def _slots_postgres() -> Any:
    """PostgreSQL: the candidates as one array per column, `unnest … with ordinality` (a short
    statement with few parameters, which psycopg caches and prepares; 16 slots of 6 values
    made it re-parse 8 kB and 129 parameters per claim)."""
    arrays = [bindparam(f"{name}s", type_=ARRAY(kind())) for name, kind in
              zip(_SLOT_COLUMNS, _SLOT_TYPES, strict=True)]
    return (func.unnest(*arrays)
            .table_valued(*_SLOT_COLUMNS, with_ordinality="ord")
            .render_derived(name="c"))


@lru_cache(maxsize=8)
def _lease_statement(*, escalated: bool, postgres: bool) -> Any:
    """The conditional UPDATE that leases the first still-free, still-callable of
    CLAIM_BATCH candidates.

    Each candidate comes with the claim version read while ranking and its practice's
    call-gate bounds now (local day and week start, touches allowed in each:
    gate.call_bounds), as the rows of `_slots_sqlite` / `_slots_postgres`. The pick
    re-checks status, that version (the fencing token), the availability filters and the
    contact gate's database rules (the latest call consent is no revocation, fewer
    touches than allowed today and this week), so a task someone claimed, snoozed, closed or
    escalated since the ranking read, or whose person a colleague called since, is passed
    over — in the same statement as the lease. On PostgreSQL `SKIP LOCKED` passes over rows
    another claimer is leasing right now instead of waiting for it.
    """
    tasks = _TASKS.c
    now = bindparam("now", type_=UTCDateTime())
    slots = _slots_postgres() if postgres else _slots_sqlite()
    still_open = workable(now, escalated=escalated, callable_only=True)
    gate = call_gate_conditions(
        practice_slug=tasks.practice_slug, subject_type=tasks.subject_type,
        subject_id=tasks.subject_id, now=now, day_start=slots.c.day_start,
        week_start=slots.c.week_start, per_day=slots.c.per_day, per_week=slots.c.per_week)
    pick = (
        select_columns(tasks.task_id)
        .select_from(slots.join(_TASKS, and_(tasks.task_id == slots.c.id,
                                             tasks.claim_version == slots.c.version)))
        .where(*still_open, *gate)
        .order_by(slots.c.ord)
        .limit(1)
    )
    if postgres:
        pick = pick.with_for_update(skip_locked=True, of=_TASKS)
    return (
        update(_TASKS)
        .where(tasks.task_id == pick.scalar_subquery())
        .where(*still_open)
        .values(status=TaskStatus.claimed, claimed_by=bindparam("user_id", type_=Integer()),
                claimed_at=now,
                lease_expires_at=bindparam("until", type_=UTCDateTime()),
                claim_version=tasks.claim_version + 1, claim_count=tasks.claim_count + 1,
                snoozed_until=None)
        .returning(*_TASKS.c)
    )


@dataclass(frozen=True)
class _Candidate:
    """One task offered to the lease: its id, the claim version read, its practice's bounds."""

    task_id: int
    version: int
    bounds: CallBounds


def _lease_params(*, user: CurrentUser, candidates: list[_Candidate], now: datetime,
                  lease: timedelta, postgres: bool) -> dict[str, Any]:
    """Bind values of the lease: per candidate its id, the claim version read and its
    practice's gate bounds (PostgreSQL: one array per column; SQLite: CLAIM_BATCH slots,
    unused ones with id -1 and bounds that refuse)."""
    params: dict[str, Any] = {"now": now, "until": now + lease, "user_id": user.user_id,
                              "actor": user.actor}
    rows: list[tuple[Any, ...]] = [
        (c.task_id, c.version, c.bounds.day_start, c.bounds.week_start, c.bounds.per_day,
         c.bounds.per_week) for c in candidates[:CLAIM_BATCH]]
    if postgres:
        for position, name in enumerate(_SLOT_COLUMNS):
            params[f"{name}s"] = [row[position] for row in rows]
        # The ids always CLAIM_BATCH long, unused ones -1 (no task; `unnest` pads the other
        # arrays with NULLs, whose bounds refuse). This keeps the lease on one generic plan
        # per connection: with the arrays' real length (one candidate on most claims) each
        # custom plan looked cheaper than the generic one (which assumes 10 elements), so
        # the statement was planned again on every claim (~0.3-0.6 ms of server CPU;
        # pg_prepared_statements: 0 generic plans of 32 executions). Only the ids: padding
        # every array cost the client a dump of 96 values per claim.
        params["ids"] += [-1] * (CLAIM_BATCH - len(rows))
        return params
    rows += [(-1, -1, None, None, 0, 0)] * (CLAIM_BATCH - len(rows))  # (None: no bind work)
    for i, row in enumerate(rows):
        for prefix, value in zip(("id", "v", "d", "w", "cd", "cw"), row, strict=True):
            params[f"{prefix}{i}"] = value
    return params


def _callable_candidates(batch: list[Scored], practices: dict[str, Any],
                         now: datetime) -> list[_Candidate]:
    """The popped candidates inside their practice's calling hours now, with the gate bounds
    the lease checks (one computation per practice)."""
    bounds: dict[str, CallBounds | None] = {}
    out = []
    for s in batch:
        slug = s.row.practice_slug
        if slug not in bounds:
            practice = practices.get(slug)
            bounds[slug] = (call_bounds(practice, now) if practice is not None
                            and call_hours_ok(now, practice.timezone) else None)
        found = bounds[slug]
        if found is not None:
            out.append(_Candidate(s.row.task_id, s.row.claim_version, found))
    return out


def _lease_first_free(
    session: Session, *, user: CurrentUser, batch: list[Scored], escalated: bool, now: datetime,
    lease: timedelta,
) -> Row[Any] | None:
    """Lease the first candidate of `batch` still as it was read and still callable, in one
    conditional UPDATE (no audit event: `_lease_audited` is the claim's)."""
    practices = practice_facts(session, {s.row.practice_slug for s in batch}, now)
    candidates = _callable_candidates(batch, practices, now)
    if not candidates:
        return None
    postgres = is_postgres(session)
    statement = _lease_statement(escalated=escalated, postgres=postgres)
    return session.connection().execute(
        statement, _lease_params(user=user, candidates=candidates, now=now, lease=lease,
                                 postgres=postgres)).first()


@lru_cache(maxsize=4)
def _audited_lease_statement(*, escalated: bool) -> Any:
    """PostgreSQL: the lease and its `claim` audit event as one statement.

    The event is appended unsealed (no chain lock in the claim's transaction); the next
    append that gets the lock, or the sealer, links it into the chain (identity/audit.py).
    """
    # (Short names: the statement stays under psycopg's 4 kB limit for caching its parse.)
    leased = _lease_statement(escalated=escalated, postgres=True).cte("l")
    appended = insert(_EVENTS).from_select(
        ["occurred_at", "actor", "action", "practice_slug", "object_ref", "outcome"],
        select_columns(bindparam("now", type_=UTCDateTime()), bindparam("actor", type_=String()),
                       literal(str(Action.claim)), leased.c.practice_slug,
                       literal("task:") + cast(leased.c.task_id, String()),
                       literal(str(Outcome.success))),
    ).cte("a")
    # The lease's commit does not wait for its WAL flush (synchronous_commit off for this
    # transaction only: `set_config(…, true)` inside the statement, which in autocommit is
    # the whole transaction). A server crash can lose the last few hundred ms of claims —
    # each lease with its audit event, never one without the other — and corrupts nothing;
    # dispositions and every other write stay durable (docs/queue.md, "Claims commit
    # without waiting for the disk").
    asynchronous = func.set_config(literal_column("'synchronous_commit'"),
                                   literal_column("'off'"), true())
    return select_columns(leased).add_cte(appended).where(asynchronous.is_not(None))


def _lease_audited(
    session: Session, *, user: CurrentUser, candidates: list[_Candidate], escalated: bool,
    now: datetime, lease: timedelta,
) -> Row[Any] | None:
    """Lease the first free candidate and append its `claim` event, in the open write
    transaction (the caller commits): one statement on PostgreSQL; on SQLite, which holds
    its single writer lock anyway, the lease then `audit.record` (sealed at once)."""
    if not candidates:
        return None
    postgres = is_postgres(session)
    params = _lease_params(user=user, candidates=candidates, now=now, lease=lease,
                           postgres=postgres)
    connection = session.connection()
    if postgres:
        return connection.execute(_audited_lease_statement(escalated=escalated), params).first()
    row = connection.execute(_lease_statement(escalated=escalated, postgres=False),
                             params).first()
    if row is not None:
        audit.append(session=session, actor=user.actor, action=Action.claim,
                     practice_slug=row.practice_slug, object_ref=f"task:{row.task_id}",
                     outcome=Outcome.success, now=now)
    return row


def _lease_committed(session: Session, *, user: CurrentUser, candidates: list[_Candidate],
           escalated: bool, now: datetime, lease: timedelta) -> Row[Any] | None:
    """`_lease_audited` in its own write transaction, committed. On SQLite the transaction is
    shared with the leases other claimers of this process are waiting to write
    (`db.grouped_write`: one BEGIN IMMEDIATE and one COMMIT for all of them, each lease still
    its own conditional UPDATE and audit event); on PostgreSQL it is the claim's own."""
    def work(target: Session) -> Row[Any] | None:
        return _lease_audited(target, user=user, candidates=candidates, escalated=escalated,
                              now=now, lease=lease)

    if is_postgres(session):
        # One statement, so one transaction by itself: sent in autocommit it is one round
        # trip (after the pool's one-trip ping) instead of BEGIN, the statement and COMMIT.
        row = None
        if candidates:
            params = _lease_params(user=user, candidates=candidates, now=now, lease=lease,
                                   postgres=True)
            row = autocommitted(session).execute(
                _audited_lease_statement(escalated=escalated), params).first()
        session.commit()
        return row
    return grouped_write(session, work)


def claim_task(*, session: Session, user: CurrentUser, task_id: int, now: datetime) -> Task:
    """Lease one chosen task (a list's "Call now"), if the user may work it and the gate lets
    the call through now; audited like a queue claim; commits. UserError says why not."""
    from console.contact.gate import Person, check_gate
    from console.models.practice import PracticeSettings

    task = session.get(Task, task_id, populate_existing=True)
    if task is None or not user.work_scope.allows(task.practice_slug):
        raise UserError("that task is not in your practices")
    if task.status == TaskStatus.claimed and task.claimed_by == user.user_id:
        return task
    if task.status != TaskStatus.open:
        raise UserError("someone else is working that task" if task.status == TaskStatus.claimed
                        else "that task is already closed")
    if task.escalated and not user.sees_escalated:
        raise UserError("that task went to a manager")
    if task.due_at > now or (task.snoozed_until is not None and task.snoozed_until > now):
        raise UserError("that task is not due yet")
    practice = session.get(PracticeSettings, task.practice_slug)
    if practice is None:
        raise UserError("that practice has no settings")
    gate = check_gate(session=session, practice=practice, channel="call", now=now,
                      person=Person(practice_slug=task.practice_slug,
                                    subject_type=task.subject_type, subject_id=task.subject_id,
                                    consented=task.consent_call,
                                    do_not_contact=task.do_not_contact))
    if not gate.ok:
        raise UserError(f"cannot call now: {gate.reason}")
    candidate = _Candidate(task_id, task.claim_version, call_bounds(practice, now))
    begin_write(session)
    row = _lease_audited(session, user=user, candidates=[candidate],
                         escalated=user.sees_escalated, now=now, lease=_lease())
    if row is None:
        session.rollback()
        raise UserError("someone else took that task a moment ago")
    session.commit()
    return _task_of(row)


_NEW_TASK = Task.__mapper__.class_manager.new_instance  # type: ignore[attr-defined]


def _task_of(row: Row[Any]) -> Task:
    """The leased row as a (transient) Task, as `Task(**values)` makes it but without its
    per-attribute instrumentation and validation: ~0.8 ms of a claim's ~2 ms of client CPU
    under 16 claimers went to building the returned Task field by field."""
    values = row._asdict()
    task: Task = _NEW_TASK()
    task.__dict__.update(values)
    object.__setattr__(task, "__pydantic_fields_set__", set(values))
    object.__setattr__(task, "__pydantic_extra__", None)
    object.__setattr__(task, "__pydantic_private__", None)
    return task


def claim_next(*, session: Session, user: CurrentUser, now: datetime) -> Task | None:
    """Atomically lease the best task the user may call now (audited), or None; commits.

    Candidates come off the process's shared claim window for the user's scope
    (console/work/window.py: ranked and gated in a read transaction at most `WINDOW_TTL`
    ago, and since any write of this process); the gate is checked again for the popped
    candidates, and only the lease and its audit event take the write lock. A candidate lost
    to a rival (another process) or refused by the gate is dropped and the next one popped.
    """
    scope = user.work_scope
    if not scope.agency_wide and not scope.practice_slugs:
        session.rollback()
        return None
    lease = _lease()
    escalated = user.sees_escalated
    slot = window.slot_for(session, window.scope_key(scope, escalated))
    with window.claiming(slot):
        return _claim_off(session, slot, user=user, scope=scope, escalated=escalated,
                          now=now, lease=lease)


def _claim_off(session: Session, slot: window.Slot, *, user: CurrentUser, scope: Scope,
               escalated: bool, now: datetime, lease: timedelta) -> Task | None:
    """`claim_next` once its slot is known: pop, lease, settle, rank ahead if low."""
    sweep = partial(_sweep_lapsed, now=now)  # (on the session that ranks)
    count = 1  # the best candidate; after a refusal or a lost race, a batch at a time
    while True:
        popped, ranking = window.take(session, slot, scope=scope, escalated=escalated, now=now,
                                      count=count, prepare=sweep)
        if not popped or ranking is None:
            session.rollback()
            return None
        # With other claims under way, a window this pop left low is ranked again now, in a
        # thread of its own, rather than after this claim's lease: under 16 claimers a lease
        # is 20-60 ms of wall time, which the ranking ahead had to make up before.
        window.refill(session, slot, ranking, scope=scope, escalated=escalated, now=now,
                      prepare=sweep, threaded_only=True)
        candidates: list[_Candidate] = []
        row: Row[Any] | None = None
        try:
            # The window's verdicts are as old as its ranking: a colleague may have called
            # one of these people since, so the lease re-checks the gate in its statement.
            candidates = _callable_candidates(popped, ranking.practices, now)
            if candidates:
                with keeping_rankings():  # the lease re-checks what ranking read
                    row = _lease_committed(session, user=user, candidates=candidates,
                                           escalated=escalated, now=now, lease=lease)
        except BaseException:
            window.settle(slot, popped, [])
            raise
        if row is not None:
            leased = next(i for i, c in enumerate(candidates) if c.task_id == row.task_id)
            after = {c.task_id for c in candidates[leased + 1:]}
            window.settle(slot, popped, [s for s in popped if s.row.task_id in after])
            # Leased: rank the next window now if this one runs low (others keep popping it).
            window.refill(session, slot, ranking, scope=scope, escalated=escalated, now=now,
                          prepare=sweep)
            if session.in_transaction():
                session.commit()  # end the refill's read transaction
            return _task_of(row)
        window.settle(slot, popped, [])
        count = CLAIM_BATCH


@lru_cache(maxsize=32)
def _fenced_statement(names: tuple[str, ...]) -> Any:
    """`fenced_update`'s conditional UPDATE setting `names` (bound as `v_<name>`), built once
    per set of columns rather than per call (as the outbox's `_finish_statement`)."""
    return (
        update(Task)
        .execution_options(synchronize_session=False)
        .where(col(Task.task_id) == bindparam("f_task_id", type_=Integer()))
        .where(col(Task.status) == TaskStatus.claimed)
        .where(col(Task.claimed_by) == bindparam("f_user_id", type_=Integer()))
        .where(col(Task.claim_version) == bindparam("f_version", type_=Integer()))
        .values(**{name: bindparam(f"v_{name}", type_=_TASKS.c[name].type) for name in names})
    )


def fenced_update(
    *, session: Session, user: CurrentUser, task_id: int, claim_version: int, values: dict[str, Any]
) -> None:
    """Apply `values` to a task only if `user` still holds it at `claim_version`, else StaleClaim.

    One conditional UPDATE (compare-and-set on the fencing token), so a holder whose lease
    lapsed and was re-claimed by someone else cannot overwrite the new holder's work.
    """
    names = tuple(sorted(values))
    result = session.execute(
        _fenced_statement(names),
        {"f_task_id": task_id, "f_user_id": user.user_id, "f_version": claim_version}
        | {f"v_{name}": values[name] for name in names},
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]
        return
    session.rollback()
    task = session.get(Task, task_id, populate_existing=True)
    if task is None:
        raise StaleClaim(f"no task {task_id}")
    if task.claimed_by == user.user_id and task.claim_version != claim_version:
        raise StaleClaim(f"task {task_id}: claim version {claim_version} is stale")
    raise StaleClaim(f"task {task_id} is not held by you (your lease lapsed or it was closed)")


def held_claim(*, session: Session, user: CurrentUser, task_id: int) -> Task:
    """The task the user holds (its `claim_version` is their fencing token), or StaleClaim
    if they do not hold it."""
    task = session.get(Task, task_id, populate_existing=True)
    if task is None:
        raise StaleClaim(f"no task {task_id}")
    if task.status != TaskStatus.claimed or task.claimed_by != user.user_id:
        raise StaleClaim(f"task {task_id} is not held by you")
    return task


def _audited_fenced_update(
    *, session: Session, user: CurrentUser, task_id: int, claim_version: int, action: Action,
    values: dict[str, Any], now: datetime,
) -> None:
    """A fenced update of a held task plus its audit event, in one write transaction; commits.

    A refused (stale) attempt is audited as denied in its own transaction, then re-raised.
    """
    begin_write(session)
    task = session.get(Task, task_id, populate_existing=True)
    practice = task.practice_slug if task is not None else None
    chronic = task is not None and task.claim_count >= ESCALATE_AFTER_CLAIMS
    if action == Action.release and chronic:
        values = {**values, "escalated": True}
    try:
        fenced_update(session=session, user=user, task_id=task_id, claim_version=claim_version,
                      values=values)
    except StaleClaim:
        begin_write(session)
        audit.record(session=session, actor=user.actor, action=action,
                     practice_slug=practice, object_ref=f"task:{task_id}",
                     outcome=Outcome.denied, now=now)
        session.commit()
        raise
    audit.record(session=session, actor=user.actor, action=action,
                 practice_slug=practice, object_ref=f"task:{task_id}",
                 outcome=Outcome.success, now=now)
    session.commit()


def release(*, session: Session, user: CurrentUser, task_id: int, claim_version: int,
            now: datetime) -> None:
    """Give a held task back to the queue (escalating one released too often); commits."""
    _audited_fenced_update(session=session, user=user, task_id=task_id,
                           claim_version=claim_version, action=Action.release, now=now,
                           values={"status": TaskStatus.open, "claimed_by": None,
                                   "lease_expires_at": None})


def snooze(*, session: Session, user: CurrentUser, task_id: int, claim_version: int,
           until: datetime, now: datetime) -> None:
    """Put a held task aside until `until` (it is not offered before then); commits."""
    if until <= now:
        raise UserError("snooze time must be in the future")
    _audited_fenced_update(session=session, user=user, task_id=task_id,
                           claim_version=claim_version, action=Action.snooze, now=now,
                           values={"status": TaskStatus.open, "claimed_by": None,
                                   "lease_expires_at": None, "snoozed_until": until})

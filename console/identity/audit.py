"""The append-only, hash-chained audit log of access and actions (SECURITY 21).

Appending never waits for a chain lock. `record` inserts the event with a database-assigned
`id`; the **sealer** links appended rows into the hash chain in `id` order, giving each the
next `seq`, the chain head's hash as `prev_hash`, and `hash = sha256(prev_hash + canonical JSON
of the event, seq included)`, so editing, deleting or reordering a sealed row breaks the chain
at that row. Only sealers take the chain lock (a PostgreSQL advisory lock; on SQLite the
writer lock any write holds anyway). An append seals inline when it gets that lock without
waiting — always on SQLite, and on PostgreSQL whenever no other append is sealing — so a
quiet store's events are sealed in their own transaction; rows left unsealed under load are
sealed by the next append that gets the lock, or by `seal` (run by `build`, `automate`,
`serve`'s timer). docs/security.md says what this guarantees.
Events name objects by id (`task:123`, `user:4`), never by a person's name, phone or email.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import Integer, String, bindparam, exists, func, insert, text, update
from sqlalchemy import select as select_columns
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from console.models.identity import AuditEvent
from console.platform.db import begin_write, ensure_writer, holds_writer, new_session
from loopdesk_core.clock import as_utc
from warehouse.scope import Scope

LOGGER = logging.getLogger(__name__)
# Audit records are kept six years (HIPAA documentation retention, 45 CFR 164.316(b)(2)).
AUDIT_RETENTION_YEARS = 6
GENESIS_HASH = "0" * 64
# An arbitrary constant naming the PostgreSQL advisory lock that serialises chain sealing.
_PG_CHAIN_LOCK = 7_406_517_301
# Rows one sealing transaction links at most (a backlog is sealed in several).
SEAL_BATCH = 1000

_EVENTS = AuditEvent.__table__  # type: ignore[attr-defined]
_CONTENT = ("occurred_at", "actor", "action", "practice_slug", "object_ref", "outcome")
# Statements built once (building them per call costs more CPU than running them).
_INSERT = insert(_EVENTS).returning(_EVENTS.c.id)
_HEAD = select_columns(_EVENTS.c.seq, _EVENTS.c.hash).where(
    _EVENTS.c.seq == select_columns(func.max(_EVENTS.c.seq)).scalar_subquery())
_PENDING = (
    select_columns(_EVENTS.c.id, *(_EVENTS.c[name] for name in _CONTENT))
    .where(_EVENTS.c.seq.is_(None))
    .order_by(_EVENTS.c.id)
    .limit(bindparam("batch"))
)
_SEAL = (
    update(_EVENTS)
    .where(_EVENTS.c.id == bindparam("row_id"))
    .where(_EVENTS.c.seq.is_(None))
    .values(seq=bindparam("seq"), prev_hash=bindparam("prev"), hash=bindparam("digest"))
)


class Action(StrEnum):
    """What was done; the audit vocabulary other areas use when they call `record`."""

    login = "login"
    logout = "logout"
    view_patient = "view_patient"
    view_report = "view_report"
    export = "export"
    claim = "claim"
    release = "release"
    snooze = "snooze"
    disposition = "disposition"
    consent_change = "consent_change"
    role_change = "role_change"
    practice_change = "practice_change"
    user_created = "user_created"
    user_deactivated = "user_deactivated"
    password_change = "password_change"  # noqa: S105 (an action name)
    report_link_created = "report_link_created"
    report_link_revoked = "report_link_revoked"
    time_entry = "time_entry"
    referral_link_sent = "referral_link_sent"
    schedule_change = "schedule_change"


class Outcome(StrEnum):
    """How it went."""

    success = "success"
    failure = "failure"
    denied = "denied"
    locked = "locked"


class _Content(Protocol):
    """What the hash covers: an `AuditEvent`, a row read by the sealer, or an event's values."""

    @property
    def seq(self) -> int | None: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def actor(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def practice_slug(self) -> str | None: ...
    @property
    def object_ref(self) -> str | None: ...
    @property
    def outcome(self) -> str: ...


@dataclass(frozen=True)
class _Values:
    seq: int | None
    occurred_at: datetime
    actor: str
    action: str
    practice_slug: str | None
    object_ref: str | None
    outcome: str


def _canonical(event: _Content) -> str:
    """The event's content as canonical JSON (sorted keys, no spaces, UTC microseconds)."""
    occurred = as_utc(event.occurred_at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    payload = {
        "seq": event.seq,
        "occurred_at": occurred,
        "actor": event.actor,
        "action": event.action,
        "practice_slug": event.practice_slug,
        "object_ref": event.object_ref,
        "outcome": event.outcome,
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def event_hash(prev_hash: str, event: _Content) -> str:
    """sha256 of the previous hash followed by the event's canonical JSON."""
    return hashlib.sha256((prev_hash + _canonical(event)).encode()).hexdigest()


def _lock_chain(session: Session, *, wait: bool) -> bool:
    """Take the chain's sealing lock in the session's transaction (held until it ends).

    With `wait=False` PostgreSQL only tries (an append never queues behind a sealer); SQLite
    has one writer at a time, so there the lock is the writer lock the append needs anyway.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
        got = session.connection().execute(
            text(f"select {function}(:key)"), {"key": _PG_CHAIN_LOCK}).scalar()
        return wait or bool(got)
    if dialect == "sqlite" and not holds_writer(session):
        # A transaction that has only read is swapped for one that holds the writer lock (a
        # read that another commit overtook cannot be upgraded: "database is locked" at once).
        # Readers never wait for this: WAL readers do not block on the writer.
        ensure_writer(session)
        # A write statement (matching no row) takes SQLite's writer lock now, waiting out the
        # busy timeout, when the caller's transaction holds pending work of its own.
        session.connection().execute(text("update audit_events set seq = seq where 1 = 0"))
    return True


def _seal_pending(session: Session, *, batch: int = SEAL_BATCH) -> tuple[int, str, int]:
    """Link up to `batch` unsealed rows into the chain (the caller holds the chain lock).

    Returns the chain head after sealing, (seq, hash), and how many rows were sealed.
    """
    connection = session.connection()
    head = connection.execute(_HEAD).first()
    seq, prev = (int(head.seq), str(head.hash)) if head is not None else (0, GENESIS_HASH)
    rows = connection.execute(_PENDING, {"batch": batch}).all()
    if not rows:
        return seq, prev, 0
    sealed = []
    for row in rows:
        seq += 1
        content = _Values(seq, *(getattr(row, name) for name in _CONTENT))
        digest = event_hash(prev, content)
        sealed.append({"row_id": row.id, "seq": seq, "prev": prev, "digest": digest})
        prev = digest
    connection.execute(_SEAL, sealed)
    return seq, prev, len(rows)


# The chain head this process sealed last, per engine (seq and hash: no event content), kept
# on the engine object. An append first tries to link its row right after it, in one guarded
# INSERT that checks under the chain lock that the head is still the stored one and nothing
# is unsealed; when another process (or a rolled-back transaction) moved the chain, the guard
# matches no row and the append reads the head and seals as before.
_HEAD_ATTRIBUTE = "loopdesk_audit_head"
_GUARDED_INSERT = (
    insert(_EVENTS)
    .from_select(
        [*_CONTENT, "seq", "prev_hash", "hash"],
        select_columns(
            *(bindparam(name, type_=_EVENTS.c[name].type) for name in _CONTENT),
            bindparam("seq", type_=Integer()), bindparam("prev_hash", type_=String()),
            bindparam("hash", type_=String()),
        ).where(
            func.coalesce(select_columns(func.max(_EVENTS.c.seq)).scalar_subquery(), 0)
            == bindparam("head_seq", type_=Integer()),
            func.coalesce(
                select_columns(_EVENTS.c.hash)
                .where(_EVENTS.c.seq == bindparam("head_seq", type_=Integer()))
                .scalar_subquery(),
                GENESIS_HASH,
            ) == bindparam("prev_hash", type_=String()),
            ~exists().where(_EVENTS.c.seq.is_(None)),
        ),
    )
    .returning(_EVENTS.c.id)
)


def _head_holder(session: Session) -> Any:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def append(
    *,
    session: Session,
    actor: str,
    action: Action | str,
    practice_slug: str | None,
    object_ref: str | None,
    outcome: Outcome | str,
    now: datetime,
) -> tuple[int, dict[str, Any]]:
    """`record` without building the model: the new row's id and its stored values."""
    values: dict[str, Any] = {
        # Stored at microsecond precision in UTC so the hash survives a database round trip.
        "occurred_at": as_utc(now), "actor": actor, "action": str(action),
        "practice_slug": practice_slug, "object_ref": object_ref, "outcome": str(outcome),
        "seq": None, "prev_hash": None, "hash": None,
    }
    if not _lock_chain(session, wait=False):
        return session.connection().execute(_INSERT, values).scalar_one(), values
    connection = session.connection()
    holder = _head_holder(session)
    head: tuple[int, str] | None = getattr(holder, _HEAD_ATTRIBUTE, None)
    if head is not None:
        seq, prev = head
        _link(values, seq, prev)
        event_id = connection.execute(_GUARDED_INSERT, values | {"head_seq": seq}).scalar()
        if event_id is not None:
            setattr(holder, _HEAD_ATTRIBUTE, (values["seq"], values["hash"]))
            return int(event_id), values
    seq, prev, _ = _seal_pending(session)
    _link(values, seq, prev)
    event_id = connection.execute(_INSERT, values).scalar_one()
    # (Ahead of the commit: if this transaction rolls back, the next guard fails and reads.)
    setattr(holder, _HEAD_ATTRIBUTE, (values["seq"], values["hash"]))
    return event_id, values


def _link(values: dict[str, Any], seq: int, prev: str) -> None:
    """Give `values` the chain position after (seq, prev) and its hash."""
    values["seq"], values["prev_hash"] = seq + 1, prev
    values["hash"] = event_hash(prev, _Values(**{k: values[k] for k in ("seq", *_CONTENT)}))


def record(
    *,
    session: Session,
    actor: str,
    action: Action | str,
    practice_slug: str | None,
    object_ref: str | None,
    outcome: Outcome | str,
    now: datetime,
) -> AuditEvent:
    """Append one event in the caller's transaction (the caller commits); never waits for the
    chain lock. Sealed at once when the lock is free (see the module docstring)."""
    event_id, values = append(session=session, actor=actor, action=action,
                              practice_slug=practice_slug, object_ref=object_ref,
                              outcome=outcome, now=now)
    return AuditEvent(id=event_id, **values)


@dataclass(frozen=True)
class SealResult:
    """What one `seal` did: rows linked, and the chain head afterwards (seq 0: empty chain)."""

    sealed: int
    head_seq: int
    head_hash: str


def seal(*, session: Session, batch: int = SEAL_BATCH) -> SealResult:
    """Link every row appended so far into the chain, `batch` rows per transaction; commits.

    Waits for another sealer (never for appends: they do not take the lock unless it is free).
    """
    total = 0
    while True:
        begin_write(session)
        _lock_chain(session, wait=True)
        seq, head, sealed = _seal_pending(session, batch=batch)
        session.commit()
        total += sealed
        if sealed < batch:
            break
    if total:
        # An anchor outside the store: ids and hashes only (docs/security.md).
        LOGGER.info("audit chain sealed %d events; head seq %d hash %s", total, seq, head)
    return SealResult(sealed=total, head_seq=seq, head_hash=head)


def head_matches(*, session: Session, seq: int, digest: str) -> bool:
    """Whether the stored chain still holds, at `seq`, a row that hashes to `digest` (a head
    sealed earlier): an edited, deleted or moved row there fails."""
    if seq == 0:
        return True
    row = session.execute(
        select_columns(_EVENTS.c.prev_hash, _EVENTS.c.hash, *(_EVENTS.c[n] for n in _CONTENT))
        .where(_EVENTS.c.seq == seq)).first()
    if row is None or row.hash != digest or row.prev_hash is None:
        return False
    return event_hash(row.prev_hash, _Values(seq, *(getattr(row, n) for n in _CONTENT))) == digest


def seal_forever(engine: Engine, *, interval_s: float, stop: threading.Event,
                 wait: Callable[[float], bool] | None = None) -> None:
    """Seal every `interval_s` until `stop` is set (serve's timer thread).

    Each round also checks that the head the previous round sealed is still stored as it was;
    a head edited, deleted or moved behind the sealer's back is logged as an error (seq only).
    `wait` (default `stop.wait`) lets tests drive the rounds without sleeping.
    """
    pause = wait or stop.wait
    last: SealResult | None = None
    while not stop.is_set():
        try:
            with new_session(engine) as session:
                if last is not None and not head_matches(session=session, seq=last.head_seq,
                                                         digest=last.head_hash):
                    LOGGER.error("audit chain changed behind the sealer: seq %d no longer holds "
                                 "the hash sealed there; run `loopdesk audit verify`",
                                 last.head_seq)
                last = seal(session=session)
        except Exception:  # keep serving; the next round tries again
            LOGGER.exception("audit sealing failed")
        if pause(interval_s):
            return


@dataclass(frozen=True)
class Unsealed:
    """The tail appended but not yet sealed: how many rows, and the oldest one's time."""

    count: int
    oldest_at: datetime | None


def unsealed(*, session: Session) -> Unsealed:
    """The unsealed tail (rows an attacker with write access could still change unseen)."""
    row = session.execute(
        select_columns(func.count(), func.min(_EVENTS.c.occurred_at))
        .where(_EVENTS.c.seq.is_(None))).one()
    return Unsealed(count=int(row[0]), oldest_at=as_utc(row[1]) if row[1] is not None else None)


def _events_in_order(session: Session, batch: int = 1000) -> Iterator[AuditEvent]:
    """Every event by sequence, read in batches so a long log is not loaded at once."""
    after = 0
    while True:
        rows = session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.seq) > after)
            .order_by(col(AuditEvent.seq))
            .limit(batch)
            # Verify what is stored, not copies this session loaded before (expire_on_commit
            # is off, so an edit made behind the session's back would otherwise go unseen).
            .execution_options(populate_existing=True)
        ).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].seq or after


def verify_chain(*, session: Session) -> int | None:
    """The `seq` of the first sealed event that breaks the chain (edited, missing, reordered),
    or None. Rows not sealed yet are not part of the chain (see `unsealed`)."""
    prev_hash = GENESIS_HASH
    expected_seq = 1
    for event in _events_in_order(session):
        if event.seq != expected_seq or event.prev_hash != prev_hash:
            return event.seq
        if event.hash != event_hash(prev_hash, event):
            return event.seq
        prev_hash = event.hash or ""
        expected_seq += 1
    return None


def list_events(
    *,
    session: Session,
    scope: Scope,
    practice_slug: str | None = None,
    action: Action | str | None = None,
    since: datetime | None = None,
    limit: int = 200,
) -> list[AuditEvent]:
    """The newest events the scope may read; agency-level events need an agency-wide scope."""
    query = select(AuditEvent)
    if not scope.agency_wide:
        allowed = sorted(scope.practice_slugs)
        if not allowed:
            return []
        query = query.where(col(AuditEvent.practice_slug).in_(allowed))
    if practice_slug is not None:
        if not scope.allows(practice_slug):
            return []
        query = query.where(AuditEvent.practice_slug == practice_slug)
    if action is not None:
        query = query.where(AuditEvent.action == str(action))
    if since is not None:
        query = query.where(col(AuditEvent.occurred_at) >= as_utc(since))
    query = query.order_by(col(AuditEvent.id).desc()).limit(max(1, min(limit, 10_000)))
    return list(session.exec(query).all())


def count_events(*, session: Session) -> int:
    """How many events the log holds."""
    return int(session.exec(select(func.count()).select_from(AuditEvent)).one())

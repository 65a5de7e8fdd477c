"""The append-only, hash-chained audit log of access and actions (SECURITY 21).

Each event's `hash` is sha256(previous hash + canonical JSON of the event, including its
sequence number), so editing, deleting or reordering a row breaks the chain at that row.
Events name objects by id (`task:123`, `user:4`), never by a person's name, phone or email.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, text
from sqlmodel import Session, col, select

from console.models.identity import AuditEvent
from console.platform.db import ensure_writer
from loopdesk_core.clock import as_utc
from warehouse.scope import Scope

# Audit records are kept six years (HIPAA documentation retention, 45 CFR 164.316(b)(2)).
AUDIT_RETENTION_YEARS = 6
GENESIS_HASH = "0" * 64
# An arbitrary constant naming the PostgreSQL advisory lock that serialises chain appends.
_PG_CHAIN_LOCK = 7_406_517_301


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


def _canonical(event: AuditEvent) -> str:
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


def event_hash(prev_hash: str, event: AuditEvent) -> str:
    """sha256 of the previous hash followed by the event's canonical JSON."""
    return hashlib.sha256((prev_hash + _canonical(event)).encode()).hexdigest()


def _lock_chain(session: Session) -> None:
    """Hold the chain's write lock before reading its tail, so two appends cannot fork it."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.connection().execute(
            text("select pg_advisory_xact_lock(:key)"), {"key": _PG_CHAIN_LOCK}
        )
    elif dialect == "sqlite":
        # A transaction that has only read is swapped for one that holds the writer lock (a
        # read that another commit overtook cannot be upgraded: "database is locked" at once).
        # Readers never wait for this: WAL readers do not block on the writer.
        ensure_writer(session)
        # A write statement (matching no row) takes SQLite's writer lock now, waiting out the
        # busy timeout, when the caller's transaction holds pending work of its own.
        session.connection().execute(text("update audit_events set seq = seq where 1 = 0"))


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
    """Append one event to the chain in the caller's transaction (the caller commits)."""
    _lock_chain(session)
    last = session.exec(select(AuditEvent).order_by(col(AuditEvent.seq).desc()).limit(1)).first()
    prev_hash = last.hash if last is not None else GENESIS_HASH
    event = AuditEvent(
        seq=(last.seq + 1) if last is not None else 1,
        # Stored at microsecond precision in UTC so the hash survives a database round trip.
        occurred_at=as_utc(now),
        actor=actor,
        action=str(action),
        practice_slug=practice_slug,
        object_ref=object_ref,
        outcome=str(outcome),
        prev_hash=prev_hash,
        hash="",
    )
    event.hash = event_hash(prev_hash, event)
    session.add(event)
    # Flush now: a concurrent append with the same seq fails here, not in someone's commit later.
    session.flush()
    return event


def _events_in_order(session: Session, batch: int = 1000) -> Iterator[AuditEvent]:
    """Every event by sequence, read in batches so a long log is not loaded at once."""
    after = 0
    while True:
        rows = session.exec(
            select(AuditEvent)
            .where(AuditEvent.seq > after)
            .order_by(col(AuditEvent.seq))
            .limit(batch)
            # Verify what is stored, not copies this session loaded before (expire_on_commit
            # is off, so an edit made behind the session's back would otherwise go unseen).
            .execution_options(populate_existing=True)
        ).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].seq


def verify_chain(*, session: Session) -> int | None:
    """The `seq` of the first event that breaks the chain (edited, missing, reordered), or None."""
    prev_hash = GENESIS_HASH
    expected_seq = 1
    for event in _events_in_order(session):
        if event.seq != expected_seq or event.prev_hash != prev_hash:
            return event.seq
        if event.hash != event_hash(prev_hash, event):
            return event.seq
        prev_hash = event.hash
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
    query = query.order_by(col(AuditEvent.seq).desc()).limit(max(1, min(limit, 10_000)))
    return list(session.exec(query).all())


def count_events(*, session: Session) -> int:
    """How many events the log holds."""
    return int(session.exec(select(func.count()).select_from(AuditEvent)).one())

"""A per-process claim window: one ranked, gated candidate list shared by the claimers of a scope.

Ranking is most of a claim's cost (the top-K statement, fair share, the hour factor: ~5 ms of
Python and 3-9 ms of database time), and 16 claimers of one process ranking the same queue at
the same moment all compute the same list. So claimers of one process with the same scope key
— (store, agency-wide or the set of practice slugs, escalated tasks or not) — share one list,
ranked `WINDOW_DEPTH` deep and gated once, and each claim *pops* its candidates off it. The
list is ranked again when

- it is older than `WINDOW_TTL` on the clock the caller passes in (`now`: the injected clock,
  so tests and the simulator stay deterministic), or `now` went backwards (by more than
  `WINDOW_SKEW`, the spread of claims side by side);
- this process wrote something that can change a ranking since it was ranked
  (`db.write_generation`: every write outside a claim's own lease — a disposition, a refresh,
  a release, a settings change, a test's own insert — bumps it);
- it ran out of candidates. To keep claimers from waiting for that, a claim that leaves
  fewer than `WINDOW_LOW` candidates (or finds the window half its TTL old) ranks the next
  one ahead of need, `WINDOW_AHEAD_DEPTH` deep — in a thread of its own when other claims of
  the key are under way (`refill`), so no claimer waits for a ranking unless the window runs
  dry first — but only once a second claim popped the window (one claim at a time gains
  nothing from it: the next finds the window expired or outdated).

A stale list can never double-claim or offer an unworkable task: each claim still leases with
the conditional, fenced UPDATE (claim version read while ranking, still open, due, unsnoozed,
callable, not escalated; `SKIP LOCKED` on PostgreSQL), which also re-checks the contact gate
of the candidates it popped (a colleague in another process may just have called that
person). What staleness can change is *which* task a claim gets: the order may lag writes of
other processes (new tasks, fair share moved by their calls) by at most `WINDOW_TTL`.

Windows shared between processes: claimers of one scope in several processes (app instances)
would each rank the same queue — under 4 processes × 4 claimers, 8× the rankings of one
process with 16 threads, competing for the cores with the claims. So a ranking made while
claims of its key run side by side, or ahead of need, is *published* to the store
(`claim_windows`, one row per scope key: its `now`, the publisher's wall clock when it began,
its candidates with their claim versions), and a process that would rank first *adopts* a
published window of another process that is newer than its own and within the TTL (skipping
candidates this process popped, leased or saw refused lately). Only one process ranks a
scope ahead at a time (a PostgreSQL advisory lock; on SQLite a byte-range lock on a file
beside the database); the others keep popping and adopt its window when it is published.
A window ranked before this process's latest write (`db.last_write_wall`) is not adopted,
so this process's writes are still seen at once; other processes' writes at most
`WINDOW_TTL` later, as before. The table is a cache: every lease re-checks.

Thread safety: one lock per scope key guards the in-memory list (pops and replacing it); a
second lock serialises refreshes, so one thread ranks while the others of that key wait for
its list (a ranker thread holds it for the claim that started it). No lock is held across a
database write.
"""

from __future__ import annotations

import collections
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import BigInteger, bindparam, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine, Row
from sqlmodel import Session

from console.contact.gate import CAP_REFUSALS, GateResult, cap_stamp
from console.models.work import ClaimWindow
from console.platform.db import (
    grouped_write,
    is_postgres,
    keeping_rankings,
    last_write_wall,
    write_generation,
)
from console.work.ranking import TOP_K_START, Scored, gate_all, practice_facts, ranked
from warehouse.scope import Scope

# How long (on the caller's clock) a ranked window may serve claims.
WINDOW_TTL = timedelta(seconds=1)
# How far a window's `now` may be *after* a claim's and still serve it. Claims side by side
# read the clock when they start: one that waited for a ranking started by a later claim
# would otherwise rank again at once (under 16 claimers, most rankings were these). The
# lease re-checks due and snoozed times at the claim's own `now`, so a task not yet due then
# is passed over, never leased; an earlier `now` beyond this is a clock going back.
WINDOW_SKEW = timedelta(milliseconds=250)
# Candidates one window ranks (the ranking is exact for this many; its slack rows follow):
# a ranking a claim waits for, and a ranking ahead of need (deeper: it is paid by no claim,
# and at 1 M tasks a ranking of 128 costs ~1.25× one of 64).
WINDOW_DEPTH = 64
WINDOW_AHEAD_DEPTH = 128
# When a whole window is refused by the gate, it is ranked 4× deeper, up to this many.
WINDOW_MAX_DEPTH = 1024
# A claim that leaves fewer candidates than this ranks the next window ahead of need (at
# 500 claims/s, 64 candidates last ~130 ms: more than a ranking under 16 claimers).
WINDOW_LOW = 64

# Task ids this process popped and did not put back (leased, lost to a rival, refused)
# remembered per scope, so a window adopted from another process skips them.
GONE_MEMORY = 1024

# After finding another process ranking a key ahead, no new attempt for this long (its
# window is adopted when published; a claim that finds the window dry ranks regardless).
LOCK_BACKOFF_S = 0.02

Key = tuple[bool, frozenset[str], bool]
# A person's fatigue-cap refusal: when it was seen and the practice's `gate.cap_stamp` then.
Refusals = dict[tuple[str, str, str], tuple[datetime, tuple[str, datetime, int, int]]]
# Remembered refusals per slot, at most (past it, the memory starts again: it is a cache).
REFUSED_MEMORY = 8192
_LOG = logging.getLogger(__name__)
_WINDOWS = ClaimWindow.__table__  # type: ignore[attr-defined]
_PROCESS = [uuid.uuid4().hex]  # this process's token as a publisher (new after a fork)
_LOCK_FILES: dict[str, int] = {}  # SQLite: the rank-lock file descriptor per database


@dataclass
class Window:
    """One ranking of a scope at `now`: the gate-passing candidates not yet popped."""

    now: datetime
    generation: int
    entries: list[Scored]
    practices: dict[str, Row[Any]]
    found: int = 0  # candidates the ranking found (0: nothing callable at `now`)
    served: int = 0  # claims that popped it

    def usable(self, now: datetime) -> bool:
        """Whether this ranking may still serve a claim at `now` (ranked at most
        `WINDOW_SKEW` after it: see there)."""
        return (self.generation == write_generation() and now - self.now >= -WINDOW_SKEW
                and now - self.now <= WINDOW_TTL)

    def running_low(self, now: datetime) -> bool:
        """Whether a new ranking should be made ahead of need (claimers keep popping this one
        meanwhile): few candidates left, or half the TTL gone — once a second claim popped
        it. A window only the claim that ranked it popped is not ranked again ahead: where
        claims come one at a time (the console's one user, the simulator, whose clock moves
        minutes between claims) the next claim finds it expired or outdated by a write and
        ranks anyway, so the ranking ahead would be thrown away."""
        return self.served >= 2 and (
            len(self.entries) < WINDOW_LOW or now - self.now >= WINDOW_TTL / 2)


@dataclass
class _Slot:
    """The window of one scope key, its locks and the candidates being leased right now."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    refreshing: threading.Lock = field(default_factory=threading.Lock)
    # Notified (under `lock`) when a window is installed or a ranking ends: a claim waiting
    # for `refreshing` pops a window installed meanwhile instead of waiting behind a
    # ranking ahead of need that another thread started after it.
    changed: threading.Condition = field(init=False)
    window: Window | None = None
    in_flight: set[int] = field(default_factory=set)  # popped, lease not decided yet
    claiming: int = 0  # claims of this key under way in this process (`claiming`)
    # While a ranking is being made: every candidate popped meanwhile (the new ranking may
    # have read it before its lease committed), left out of the new window.
    popped_meanwhile: set[int] | None = None
    returned_meanwhile: list[Scored] | None = None  # settled back meanwhile: put in the new one
    refreshes: int = 0  # rankings made (for tests and the benchmark)
    # People refused by a fatigue cap, not gated again until their local day ends
    # (`_rank_gated`; read and written only by the thread holding `refreshing`).
    refused: Refusals = field(default_factory=dict)
    ahead: int = 0  # of which handed to a thread of their own (`refill`)
    store_key: str = ""  # the key's name in `claim_windows`
    gone: collections.deque[int] = field(
        default_factory=lambda: collections.deque(maxlen=GONE_MEMORY))
    lock_busy_until: float = 0.0  # (monotonic) no ranking ahead before: another process ranks
    adopted: int = 0  # windows taken from another process instead of ranking
    published: int = 0  # rankings published for other processes

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)


Slot = _Slot  # (the type, for callers)
_POOL: weakref.WeakKeyDictionary[Engine, dict[Key, _Slot]] = weakref.WeakKeyDictionary()
_POOL_LOCK = threading.Lock()


@contextmanager
def claiming(slot: _Slot) -> Iterator[None]:
    """Count a claim of the slot's key as under way for the block (`refill` ranks ahead in a
    thread of its own when others are)."""
    with slot.lock:
        slot.claiming += 1
    try:
        yield
    finally:
        with slot.lock:
            slot.claiming -= 1


def _reset_after_fork() -> None:
    """A forked process starts with no windows (and fresh, unlocked locks)."""
    global _POOL_LOCK
    _POOL_LOCK = threading.Lock()
    _POOL.clear()
    _PROCESS[0] = uuid.uuid4().hex
    _LOCK_FILES.clear()  # (POSIX record locks are not inherited; reopen)


os.register_at_fork(after_in_child=_reset_after_fork)


def scope_key(scope: Scope, escalated: bool) -> Key:
    """Claimers with equal keys rank the same queue."""
    return (scope.agency_wide, frozenset() if scope.agency_wide else scope.practice_slugs,
            escalated)


def store_key(key: Key) -> str:
    """The scope key's name in `claim_windows` (a hash: a coordinator's practice list can be
    long)."""
    agency, slugs, escalated = key
    text = ("*" if agency else "\n".join(sorted(slugs))) + ("|escalated" if escalated else "|")
    return hashlib.sha256(text.encode()).hexdigest()


def _engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def slot_for(session: Session, key: Key) -> _Slot:
    """The shared slot of `key` on the session's store."""
    engine = _engine_of(session)
    with _POOL_LOCK:
        slots = _POOL.get(engine)
        if slots is None:
            slots = _POOL[engine] = {}
        slot = slots.get(key)
        if slot is None:
            slot = slots[key] = _Slot(store_key=store_key(key))
        return slot


def forget_windows() -> None:
    """Drop every window of this process (tests; the next claim ranks afresh)."""
    with _POOL_LOCK:
        _POOL.clear()


def _rank_gated(session: Session, *, scope: Scope, escalated: bool, now: datetime,
                skip: set[int], depth: int, memory: Refusals | None = None,
                ) -> tuple[list[Scored], dict[str, Row[Any]]]:
    """The gate-passing candidates of a fresh ranking `depth` deep, ranking deeper while
    every candidate is refused (people already called today stay at the top while their
    tasks breach).

    `memory` (the slot's, `_Slot.refused`; the caller holds `slot.refreshing`): people the
    gate refused by a fatigue cap at an earlier ranking, which cannot lift before their
    practice's local day ends (gate.cap_stamp). Their candidates are refused here without
    being gated again; every other candidate is gated, and new cap refusals remembered. The
    verdicts are the gate's own, so the passing candidates (and their order) are those of
    gating every candidate."""
    wanted = depth
    refused: set[int] = set()
    while True:
        scored, practices = ranked(session, scope=scope, now=now, callable_only=True,
                                   escalated=escalated, wanted=wanted, claim=True)
        fresh = [s for s in scored if s.row.task_id not in refused and s.row.task_id not in skip]
        if memory is None:
            gate_all(session, fresh, practices, now)
        else:
            _gate_remembering(session, fresh, practices, now, memory)
        refused.update(s.row.task_id for s in fresh if not s.gate.ok)
        passing = [s for s in fresh if s.gate.ok]
        if passing or not fresh or wanted >= WINDOW_MAX_DEPTH:
            return passing, practices
        wanted = max(4 * wanted, 4 * TOP_K_START)


def _gate_remembering(session: Session, fresh: list[Scored], practices: dict[str, Row[Any]],
                      now: datetime, memory: Refusals) -> None:
    """`gate_all` of `fresh`, but people in `memory` whose cap refusal still holds at `now`
    are refused without a read, and cap refusals found are remembered."""
    stamps: dict[str, tuple[str, datetime, int, int]] = {}  # per practice, at `now`
    unknown: list[Scored] = []
    for s in fresh:
        key = (s.row.practice_slug, s.row.subject_type, s.row.subject_id)
        seen = memory.get(key)
        if seen is not None:
            stamp = stamps.get(key[0])
            if stamp is None:
                stamp = stamps[key[0]] = cap_stamp(practices[key[0]], now)
            if seen[0] <= now and seen[1] == stamp:
                s.gate = REMEMBERED
                continue
            del memory[key]
        unknown.append(s)
    if not unknown:
        return
    gate_all(session, unknown, practices, now)
    if len(memory) >= REFUSED_MEMORY:
        memory.clear()
    for s in unknown:
        if not s.gate.ok and s.gate.reason in CAP_REFUSALS:
            slug = s.row.practice_slug
            stamp = stamps.get(slug)
            if stamp is None:
                stamp = stamps[slug] = cap_stamp(practices[slug], now)
            memory[(slug, s.row.subject_type, s.row.subject_id)] = (now, stamp)


# The verdict of a remembered cap refusal (the gate may now give another reason first, e.g.
# the hours or a withdrawn consent: a refusal all the same; a claim reads only `ok`).
REMEMBERED = GateResult(False, "already at a contact limit")


def take(session: Session, slot: _Slot, *, scope: Scope, escalated: bool, now: datetime,
         count: int, prepare: Callable[[Session], None],
         ) -> tuple[list[Scored], Window | None]:
    """Pop up to `count` candidates (best first) off the slot's window, ranking a new one
    when it is stale or ran dry (after `prepare(session)`, the claim's sweep of lapsed
    leases).
    Returns no candidates when a ranking within the TTL found none."""
    while True:
        with slot.lock:
            window = slot.window
            if window is not None and window.usable(now):
                if window.entries:
                    return _pop(slot, window, count), window
                if not window.found:
                    return [], window  # nothing was callable at this ranking
        if session.in_transaction():
            # Wait for another thread's ranking holding no pooled connection: a ranker
            # thread needs one from the same pool, which claimers waiting here could fill.
            session.commit()
        if not _hold_refreshing(slot, window):
            continue  # another thread installed a window while we waited: pop from it
        try:
            with slot.lock:
                current = slot.window
                waited = current is not window
            if waited and current is not None and current.usable(now):
                continue  # another thread ranked while we waited: pop from its list
            # Lapsed leases go back to the queue before it is ranked (one indexed read when
            # none has lapsed; the write, if any, holds no window lock) — by the claim that
            # ranks only: when 16 claimers found the window stale at once, each made that
            # read (and its round trips) before waiting, and the one ranking waited for
            # the GIL behind them.
            prepare(session)
            with slot.lock:
                shared = slot.claiming > 1  # claimers side by side: share with other processes
            if shared:
                # One process ranks at a time: wait for one ranking right now elsewhere,
                # then adopt its window (or rank, if it published none newer than ours).
                if session.in_transaction():
                    session.commit()
                _ranking_lock(session, slot, wait=True)
            try:
                fresh = _refresh(session, slot, scope=scope, escalated=escalated, now=now,
                                 shared=shared)
            finally:
                if shared:
                    _ranking_unlock(session, slot)
            assert fresh is not None  # (it ranks when it adopts nothing)
            with slot.lock:
                # Our own ranking serves this claim even if a write landed while it ran (it
                # is as fresh as ranking per claim was); later claims will rank again.
                if fresh.entries:
                    return _pop(slot, fresh, count), fresh
                if not fresh.found:
                    return [], fresh
        finally:
            _release_refreshing(slot)


# While waiting for another thread's ranking, how often a claim looks again whether a
# window was installed (it is also woken when one is).
_WAIT_SLICE_S = 0.005


def _hold_refreshing(slot: _Slot, seen: Window | None) -> bool:
    """Take `slot.refreshing` (True), or give up as soon as a window other than `seen` is
    installed (False: pop from it). Before, a claim that found the window stale queued for
    the lock behind the thread ranking it and then, often, behind a ranking *ahead of need*
    that a claim of the new window had started meanwhile: under 16 claimers at 1 M tasks the
    first claims of a run waited 450-570 ms (two rankings) for a window that had been ready
    after the first one."""
    while not slot.refreshing.acquire(blocking=False):
        with slot.changed:
            if slot.window is not seen:
                return False
            slot.changed.wait(_WAIT_SLICE_S)
    return True


def _release_refreshing(slot: _Slot) -> None:
    """Release `slot.refreshing` and wake the claims waiting for it."""
    slot.refreshing.release()
    with slot.changed:
        slot.changed.notify_all()


def refill(session: Session, slot: _Slot, window: Window | None, *, scope: Scope,
           escalated: bool, now: datetime, prepare: Callable[[Session], None],
           threaded_only: bool = False) -> None:
    """Rank ahead of need when `window` (the slot's current one) is running low and no
    other thread is ranking; the others keep popping the old window meanwhile.

    While other claims of the slot are under way (claimers side by side), the ranking runs
    in a thread of its own on a session of its own, so no claimer waits for it unless the
    window runs dry before it is done; a lone claimer (no other claim under way: the
    console's one user, the simulator, a test) ranks in its own thread after its lease, as
    before. With `threaded_only` (a claim that just popped, before its lease) only the
    first case: the ranker thread starts a lease earlier, and a lone claimer's ranking
    still waits for its own lease.
    """
    with slot.lock:
        if window is None or slot.window is not window or not window.usable(now):
            return
        if not window.running_low(now):
            return
        if slot.lock_busy_until > time.monotonic():
            return  # another process is ranking this key: wait for its window a moment
        alongside = slot.claiming > 1  # other claims of this key under way
        if threaded_only and not alongside:
            return
    if not slot.refreshing.acquire(blocking=False):
        return
    if alongside:
        ranker = threading.Thread(
            target=_rank_ahead, name="loopdesk-rank-ahead", daemon=True,
            args=(_engine_of(session), slot, window),
            kwargs={"scope": scope, "escalated": escalated, "now": now, "prepare": prepare})
        try:
            ranker.start()
        except BaseException:
            _release_refreshing(slot)
            raise
        slot.ahead += 1
        return
    try:
        _rank_if_current(session, slot, window, scope=scope, escalated=escalated, now=now,
                         prepare=prepare)
    finally:
        _release_refreshing(slot)


def _rank_if_current(session: Session, slot: _Slot, window: Window, *, scope: Scope,
                     escalated: bool, now: datetime, prepare: Callable[[Session], None]) -> None:
    """Rank the scope ahead of need in `session`, unless another ranking replaced `window`
    meanwhile."""
    with slot.lock:
        if slot.window is not window:
            return
    prepare(session)
    # The ranking lock and the key's published window in one read (PostgreSQL: one
    # statement in the transaction the sweep's check began, which the lock lasts as long
    # as). Under 16 claimers every round trip of a ranker thread waits ~10-20 ms for the GIL
    # when it comes back: reading the window before the lock, committing, locking and
    # reading it again was 8 round trips before the ranking began (40-140 ms).
    locked, published = _lock_and_read(session, slot)
    try:
        if not locked:
            if _refresh(session, slot, scope=scope, escalated=escalated, now=now, shared=True,
                        rank=False, published=published) is None:
                # Another process is ranking this scope right now and published nothing
                # newer yet: keep popping this window; a later claim adopts the one it
                # publishes (or ranks, if none comes).
                session.rollback()
                with slot.lock:
                    slot.lock_busy_until = time.monotonic() + LOCK_BACKOFF_S
            return
        # Holding the lock, no other process publishes for this key until it is released
        # (publishing needs it), so the row read with it is the newest there is.
        _refresh(session, slot, scope=scope, escalated=escalated, now=now,
                 depth=WINDOW_AHEAD_DEPTH, shared=True, published=published)
    finally:
        if locked:
            _ranking_unlock(session, slot)


def _rank_ahead(engine: Engine, slot: _Slot, window: Window, *, scope: Scope, escalated: bool,
                now: datetime, prepare: Callable[[Session], None]) -> None:
    """`refill`'s ranking in a thread of its own (which `refill` handed `slot.refreshing`).
    A failure only costs the ranking ahead: the next claim that finds the window stale or
    dry ranks itself (and meets the error, if it lasts)."""
    try:
        with Session(engine, expire_on_commit=False) as ranker:
            _rank_if_current(ranker, slot, window, scope=scope, escalated=escalated, now=now,
                             prepare=prepare)
            ranker.rollback()  # end the read transaction before the connection goes back
    except Exception as error:  # (no values in the message: only what failed)
        _LOG.warning("ranking ahead of need failed (%s); claims will rank themselves",
                     type(error).__name__)
    finally:
        _release_refreshing(slot)


_UNREAD: Any = object()  # (`_refresh`'s `published` when the caller did not read the row)


def _refresh(session: Session, slot: _Slot, *, scope: Scope, escalated: bool,
             now: datetime, depth: int | None = None, shared: bool = False,
             rank: bool = True, published: Any = _UNREAD) -> Window | None:
    """Rank the scope and install the new window (the caller holds `slot.refreshing`); with
    `shared`, first adopt a newer window another process published, and publish a ranking
    made here. With `rank` False only adopt (None: nothing to adopt, nothing changed).
    `published`: the key's `claim_windows` row (or None) when the caller already read it."""
    with slot.lock:
        skip = set(slot.in_flight)
        newer_than = slot.window.now if slot.window is not None else None
        slot.popped_meanwhile, slot.returned_meanwhile = set(), []
    try:
        generation = write_generation()
        adopted = (_adopt(session, slot, now=now, newer_than=newer_than, skip=skip,
                          row=published)
                   if shared else None)
        if adopted is not None:
            ranked_at, entries, practices = adopted
        elif not rank:
            with slot.lock:
                slot.popped_meanwhile = slot.returned_meanwhile = None
            return None
        else:
            ranked_at, started = now, time.time()
            entries, practices = _rank_gated(session, scope=scope, escalated=escalated,
                                             now=now, skip=skip, depth=depth or WINDOW_DEPTH,
                                             memory=slot.refused)
    except BaseException:
        with slot.lock:
            slot.popped_meanwhile = slot.returned_meanwhile = None
        raise
    with slot.lock:
        popped = slot.popped_meanwhile or set()
        returned = [s for s in slot.returned_meanwhile or [] if s.row.task_id not in popped
                    and s.row.practice_slug in practices]
        slot.popped_meanwhile = slot.returned_meanwhile = None
        if adopted is None:
            slot.refreshes += 1
        else:
            slot.adopted += 1
        kept = [s for s in entries if s.row.task_id not in popped]
        window = slot.window = Window(now=ranked_at, generation=generation,
                                      practices=practices, entries=returned + kept,
                                      found=len(entries) + len(returned))
        slot.changed.notify_all()
    if shared and adopted is None and entries:
        # (after installing it: claimers of this process pop it while the write waits)
        _publish(session, slot, now=now, started=started, entries=entries)
    return window


def _pop(slot: _Slot, window: Window, count: int) -> list[Scored]:
    """Take the best `count` candidates off `window` (the caller holds `slot.lock`)."""
    batch = window.entries[:count]
    del window.entries[:count]
    window.served += 1
    ids = [s.row.task_id for s in batch]
    slot.in_flight.update(ids)
    if slot.popped_meanwhile is not None:
        slot.popped_meanwhile.update(ids)
    return batch


def settle(slot: _Slot, popped: Iterable[Scored], returned: list[Scored]) -> None:
    """The lease of `popped` is decided: `returned` (passing candidates not leased because a
    better one was) go back to the front of the slot's current window, and of the one being
    ranked if any (which left them out while they were in flight)."""
    with slot.lock:
        slot.in_flight.difference_update(s.row.task_id for s in popped)
        back = {s.row.task_id for s in returned}
        slot.gone.extend(s.row.task_id for s in popped if s.row.task_id not in back)
        if not returned:
            return
        current = slot.window
        if current is not None:
            # (only candidates whose practice facts that ranking read: the gate needs them)
            current.entries[:0] = [s for s in returned if s.row.practice_slug in current.practices]
        if slot.returned_meanwhile is not None:
            slot.returned_meanwhile.extend(returned)


class _SharedRow(NamedTuple):
    """What a claim reads of an adopted candidate (`Scored.row` of a ranked one has more)."""

    task_id: int
    claim_version: int
    practice_slug: str


_PUBLISHED = select(_WINDOWS).where(_WINDOWS.c.scope_key == bindparam("key"))


def _adopt(session: Session, slot: _Slot, *, now: datetime, newer_than: datetime | None,
           skip: set[int], row: Any = _UNREAD,
           ) -> tuple[datetime, list[Scored], dict[str, Row[Any]]] | None:
    """The window another process published for the slot's key, if it is newer than
    `newer_than` (this process's current one), usable at `now` and begun after this
    process's latest write: its `now`, its candidates less those in flight here or gone
    (`_Slot.gone`), and their practices' facts now. None: rank here. `row`: the key's row
    (None: there is none) when the caller read it (`_lock_and_read`)."""
    if row is _UNREAD:
        row = session.execute(_PUBLISHED, {"key": slot.store_key}).first()
    if row is None or row.publisher == _PROCESS[0]:
        return None
    if newer_than is not None and row.ranked_at <= newer_than:
        return None
    if not (-WINDOW_SKEW <= now - row.ranked_at <= WINDOW_TTL):
        return None
    if row.started_wall <= last_write_wall():
        return None  # ranked before this process's latest write: it may not show it
    with slot.lock:
        gone = skip | set(slot.gone)
    entries = [Scored(row=cast(Any, _SharedRow(task_id, version, slug)), priority=priority,
                      share=cast(Any, None))
               for task_id, version, slug, priority in json.loads(row.entries)
               if task_id not in gone]
    if not entries:
        return None
    practices = practice_facts(session, {s.row.practice_slug for s in entries}, now)
    return row.ranked_at, [s for s in entries if s.row.practice_slug in practices], practices


def _publish(session: Session, slot: _Slot, *, now: datetime, started: float,
             entries: list[Scored]) -> None:
    """Write this ranking as the key's newest window for other processes (a failure costs
    them a ranking of their own: logged, not raised)."""
    values = {"scope_key": slot.store_key, "ranked_at": now, "started_wall": started,
              "publisher": _PROCESS[0],
              "entries": json.dumps([[s.row.task_id, s.row.claim_version, s.row.practice_slug,
                                      round(s.priority, 6)] for s in entries])}
    postgres = is_postgres(session)
    upsert = (pg_insert if postgres else sqlite_insert)(_WINDOWS).values(values)
    upsert = upsert.on_conflict_do_update(
        index_elements=[_WINDOWS.c.scope_key],
        set_={name: upsert.excluded[name] for name in values if name != "scope_key"})

    def work(target: Session) -> None:
        target.execute(upsert)

    try:
        with keeping_rankings():  # (a cache: no ranking of this process is outdated by it)
            if postgres:
                work(session)
                session.commit()
            else:
                grouped_write(session, work)
    except Exception as error:  # (no values in the message)
        session.rollback()
        _LOG.warning("publishing a claim window failed (%s)", type(error).__name__)
        return
    with slot.lock:
        slot.published += 1


def _lock_file(session: Session) -> int | None:
    """SQLite: this process's descriptor of the rank-lock file beside the database (None in
    memory: one process)."""
    database = session.get_bind().engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = f"{database}.rank-lock"
    fd = _LOCK_FILES.get(path)
    if fd is None:
        fd = _LOCK_FILES[path] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    return fd


def _ranking_lock(session: Session, slot: _Slot, *, wait: bool = False) -> bool:
    """Become the one process ranking the slot's key: a transaction advisory lock on
    PostgreSQL (held until the ranking's transaction ends), a byte-range lock on SQLite
    (until `_ranking_unlock`). Without `wait`, False when another process holds it; with
    `wait`, once it is free (a claim whose window ran dry waits for the ranking under way)."""
    number = int(slot.store_key[:15], 16)
    if is_postgres(session):
        if wait:
            session.execute(select(func.pg_advisory_xact_lock(number)))
            return True
        return bool(session.execute(select(func.pg_try_advisory_xact_lock(number))).scalar())
    fd = _lock_file(session)
    if fd is None:
        return True
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB, 1,
                    number % (1 << 30))
    except OSError:
        return False
    return True


_HELD = select(func.pg_try_advisory_xact_lock(bindparam("number", type_=BigInteger()))
               .label("locked")).subquery("held")
_LOCK_AND_READ = (
    select(_HELD.c.locked, *_WINDOWS.c)
    .select_from(_HELD.outerjoin(_WINDOWS, _WINDOWS.c.scope_key == bindparam("key")))
)


def _lock_and_read(session: Session, slot: _Slot) -> tuple[bool, Any]:
    """`_ranking_lock` without waiting, and the key's published window read after it (None:
    no row): on PostgreSQL one statement, the lock taken before the row is read."""
    if not is_postgres(session):
        locked = _ranking_lock(session, slot)
        return locked, session.execute(_PUBLISHED, {"key": slot.store_key}).first()
    row = session.execute(_LOCK_AND_READ, {"number": int(slot.store_key[:15], 16),
                                           "key": slot.store_key}).one()
    return bool(row.locked), (row if row.scope_key is not None else None)


def _ranking_unlock(session: Session, slot: _Slot) -> None:
    """Release `_ranking_lock` (PostgreSQL: ending the transaction does)."""
    if is_postgres(session):
        if session.in_transaction():
            session.commit()
        return
    fd = _lock_file(session)
    if fd is not None:
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, int(slot.store_key[:15], 16) % (1 << 30))

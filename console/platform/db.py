"""The operational store: one engine per database URL (SQLite by default, PostgreSQL to scale)."""

from __future__ import annotations

import collections
import functools
import random
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session, create_engine

from console.platform.errors import UserError
from loopdesk_core.home import make_private
from loopdesk_core.settings import get_settings


class StoreBusy(UserError):
    """The store stayed busy through every retry (shown to the user as a one-line message)."""

    def __init__(self) -> None:
        super().__init__("the console is very busy right now; please try again in a moment")

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option that asks the SQLite `begin` hook for a writer lock up front.
IMMEDIATE = "loopdesk_immediate"
# Connection-info flag: the open SQLite transaction holds the writer lock (BEGIN IMMEDIATE, or
# a write statement already ran in it).
_WRITER = "loopdesk_writer"
_WRITE_VERBS = ("insert", "update", "delete", "replace")
# Whole-operation retries after a lock conflict the busy timeout cannot wait out (a read
# transaction overtaken by another commit cannot become a writer; PostgreSQL deadlock or
# serialisation failures), with a short jittered back-off between attempts.
RETRY_ATTEMPTS = 10
RETRY_BACKOFF_S = 0.05
T = TypeVar("T")
_GATE_ATTRIBUTE = "loopdesk_writer_gate"


class FairLock:
    """A lock handed to its waiters in arrival order (a `threading.Lock` lets the thread that
    just released it take it again, ahead of threads that waited: under 16 claimers some
    waited 3-4× the median for the SQLite writer). Same `acquire`/`release`/`locked` API."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiters: collections.deque[threading.Lock] = collections.deque()
        self._held = False

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the lock, after every thread that was waiting for it (False on timeout)."""
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            if not blocking:
                return False
            turn = threading.Lock()
            turn.acquire()
            self._waiters.append(turn)
        if turn.acquire(timeout=timeout):
            return True  # handed over by `release`
        with self._mutex:
            if turn in self._waiters:
                self._waiters.remove(turn)
                return False
        return True  # handed over just as the wait timed out

    def release(self) -> None:
        """Hand the lock to the longest waiter, or free it."""
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()  # stays held, by the next thread now
            else:
                self._held = False

    def locked(self) -> bool:
        """Whether some thread holds the lock."""
        return self._held


def writer_gate_held(engine: Engine) -> bool:
    """Whether some thread holds the SQLite engine's in-process writer gate right now."""
    gate = getattr(engine, _GATE_ATTRIBUTE, None)
    return gate is not None and gate.locked()


def _configure_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout and explicit BEGINs, so claims can take the writer lock at once.

    Threads of one process queue for `BEGIN IMMEDIATE` on an in-process gate (a lock per
    engine) instead of in SQLite's busy handler, which polls with sleeps growing to 100 ms:
    under 16 concurrent claimers those sleeps, not the work, made the p95 (and left the
    writer idle between transactions). The gate is released when the transaction ends; other
    processes still meet at SQLite's lock. A gate not released (a connection lost mid-
    transaction) only delays: waiting for it gives up after the busy timeout and goes on to
    SQLite's own lock.
    """
    gate = FairLock()
    setattr(engine, _GATE_ATTRIBUTE, gate)  # (for writer_gate_held)
    setattr(engine, _GROUP_ATTRIBUTE, _WriteGroup())  # (for grouped_write)
    holders: set[int] = set()  # ids of the DBAPI connections holding the gate (at most one)

    def release(dbapi_connection: Any) -> None:
        # The dialect is handed the pool's proxy (commit) or the driver's connection (reset).
        key = id(getattr(dbapi_connection, "dbapi_connection", dbapi_connection))
        if key in holders:
            holders.discard(key)
            gate.release()

    def after(original: Callable[[Any], None]) -> Callable[[Any], None]:
        def ended(dbapi_connection: Any) -> None:
            try:
                original(dbapi_connection)
            finally:
                release(dbapi_connection)  # after COMMIT/ROLLBACK: the writer lock is free
        return ended

    # The transaction's end, wherever it comes from (a commit, a rollback, the pool's reset).
    setattr(engine.dialect, "do_commit", after(engine.dialect.do_commit))  # noqa: B010
    setattr(engine.dialect, "do_rollback", after(engine.dialect.do_rollback))  # noqa: B010

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling would defer BEGIN; we emit BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("pragma journal_mode=wal")
        cursor.execute(f"pragma busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("pragma synchronous=normal")
        cursor.execute("pragma foreign_keys=on")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(IMMEDIATE, False)
        raw = connection.connection.dbapi_connection
        if immediate and id(raw) not in holders and gate.acquire(
                timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
            holders.add(id(raw))
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
        except BaseException:
            release(raw)
            raise
        connection.info[_WRITER] = bool(immediate)

    @event.listens_for(engine, "invalidate")
    def _on_invalidate(dbapi_connection: Any, connection_record: Any, exception: Any) -> None:
        release(dbapi_connection)

    @event.listens_for(engine, "close")
    def _on_close(dbapi_connection: Any, connection_record: Any) -> None:
        release(dbapi_connection)

    @event.listens_for(engine, "after_cursor_execute")
    def _after_execute(connection: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        # A write statement that succeeded means this transaction now holds the writer lock.
        if not connection.info.get(_WRITER) and statement.lstrip()[:7].lower().startswith(
                _WRITE_VERBS):
            connection.info[_WRITER] = True


# --- Writes that may change what ranking returns (the claim windows' generation) ---
# Every statement this process runs that is not a read, and every commit of a transaction that
# ran one, bumps one counter; a claim window (console/work/window.py) ranked under another
# value is recomputed. Writes that leave rankings valid (a claim's own lease and audit event,
# which the lease re-checks anyway) run under `keeping_rankings()` and do not count.
_READ_VERBS = ("select", "pragma", "show", "set", "begin", "savepoint", "release", "explain",
               "commit", "rollback", "analyze", "vacuum", "reset", "discard")
_CHANGED = "loopdesk_changed_rankings"
_generation_lock = threading.Lock()
_generation = 0
_generation_wall = 0.0  # time.time() at the last bump (a shared window must be newer)
_quiet = threading.local()


def write_generation() -> int:
    """A value that changes whenever this process wrote (or committed a write) outside
    `keeping_rankings()`."""
    return _generation


def last_write_wall() -> float:
    """This process's wall clock (`time.time()`) when `write_generation` last changed: a
    ranking another process began before it may not have seen that write."""
    return _generation_wall


def bump_write_generation() -> None:
    """Mark every ranking this process computed so far as outdated."""
    global _generation, _generation_wall
    with _generation_lock:
        _generation += 1
        _generation_wall = time.time()


@contextmanager
def keeping_rankings() -> Iterator[None]:
    """Writes of this thread inside the block do not outdate rankings (a claim's lease)."""
    before = getattr(_quiet, "on", False)
    _quiet.on = True
    try:
        yield
    finally:
        _quiet.on = before


def _note_write(connection: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    if getattr(_quiet, "on", False):
        return
    head = statement.lstrip()[:9].lower()
    if head.startswith(_READ_VERBS):
        return
    connection.info[_CHANGED] = True
    bump_write_generation()


def _note_commit(connection: Connection) -> None:
    # Readers that ranked between the write and its commit saw the old rows: bump again.
    if connection.info.pop(_CHANGED, False):
        bump_write_generation()


def _note_rollback(connection: Connection) -> None:
    connection.info.pop(_CHANGED, None)


event.listen(Engine, "after_cursor_execute", _note_write)
event.listen(Engine, "commit", _note_commit)
event.listen(Engine, "rollback", _note_rollback)


_ENGINES: list[Engine] = []  # every engine this process made (close_connections)


def close_connections() -> None:
    """Close the pooled connections of every engine (the end of a one-shot command: a SQLite
    store checkpoints its WAL when its last connection closes). Engines stay usable."""
    for engine in _ENGINES:
        engine.dispose()


# A pooled PostgreSQL connection given back less than this long ago is lent again without
# the pre-ping: a server that went away and came back in between cannot have (a restart
# takes longer), and under 16 claimers the ping was half of a claim's round trips.
PING_AFTER_IDLE_S = 1.0
_CHECKED_IN: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()
_ping_clock: Callable[[], float] = time.monotonic  # (tests move it)


def _note_checkin(dbapi_connection: Any, _record: Any) -> None:
    if dbapi_connection is not None:
        _CHECKED_IN[dbapi_connection] = _ping_clock()


def _ping_outside_transaction(dbapi_connection: Any) -> bool:
    """The pool's pre-ping on a psycopg connection, one round trip that leaves no transaction
    open. (SQLAlchemy's `SELECT 1` on a non-autocommit connection makes psycopg send `BEGIN`
    first — two round trips — and leaves the checked-out connection inside that transaction,
    so a caller could no longer run its work in autocommit: `autocommitted`.) A connection
    given back less than `PING_AFTER_IDLE_S` ago is not pinged."""
    from psycopg.pq import TransactionStatus

    returned = _CHECKED_IN.get(dbapi_connection)
    if returned is not None and _ping_clock() - returned < PING_AFTER_IDLE_S:
        return True
    if dbapi_connection.autocommit or (
            dbapi_connection.info.transaction_status != TransactionStatus.IDLE):
        dbapi_connection.execute("select 1").close()
        return True
    dbapi_connection.autocommit = True  # (client side only: the connection is idle)
    try:
        dbapi_connection.execute("select 1").close()
    finally:
        if not dbapi_connection.closed:
            dbapi_connection.autocommit = False
    return True


def autocommitted(session: Session) -> Connection:
    """PostgreSQL: a connection of `session` in autocommit for one statement that is a whole
    write transaction by itself (atomic as any single statement), with no `BEGIN` and
    `COMMIT` round trips; the caller ends it with `session.commit()` (no round trip). Any
    transaction open on the session is committed first."""
    if session.in_transaction():
        session.commit()
    return session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


@functools.lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    # A ceiling per process (LOOPDESK_DB_POOL_SIZE, default 8): pool_size connections and no
    # overflow, so N `serve` processes hold at most N × ceiling PostgreSQL connections; a
    # request beyond it waits for a free connection (pool_timeout) instead of opening more.
    ceiling = get_settings().db_pool_size
    if url.startswith("sqlite"):
        # A pool of open connections: reopening a WAL database per transaction costs a
        # checkpoint on every close.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=ceiling,
            max_overflow=0,
            pool_timeout=60,
            hide_parameters=True,  # bound values are patient data: keep them out of logs
        )
        _configure_sqlite(engine)
    else:
        engine = create_engine(url, pool_size=ceiling, max_overflow=0, pool_timeout=60,
                               pool_pre_ping=True, hide_parameters=True)
        if engine.dialect.driver == "psycopg":
            setattr(engine.dialect, "do_ping", _ping_outside_transaction)  # noqa: B010
            event.listen(engine, "checkin", _note_checkin)
    _ENGINES.append(engine)
    return engine


def get_engine(url: str | None = None) -> Engine:
    """The engine for `url` (default: the configured store), created once per URL."""
    resolved = url or get_settings().resolved_database_url
    if resolved.startswith("sqlite:///") and ":memory:" not in resolved:
        home = get_settings().resolved_home
        home.mkdir(parents=True, exist_ok=True)
        make_private(home)
    return _engine_for(resolved)


def init_db(engine: Engine) -> None:
    """Bring the store to the newest schema revision (Alembic), once per URL per process."""
    from console.migrations import upgrade

    upgrade(engine)


def new_session(engine: Engine | None = None) -> Session:
    """A session on the store whose objects stay readable after commit."""
    return Session(engine or get_engine(), expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session on a store whose tables exist, closed afterwards."""
    engine = engine or get_engine()
    init_db(engine)
    session = new_session(engine)
    try:
        yield session
    finally:
        session.close()


def begin_write(session: Session) -> None:
    """Start a write transaction that holds the writer lock at once (SQLite `BEGIN IMMEDIATE`).

    Any transaction already open on the session is committed first, because SQLite cannot
    upgrade a reader to a writer without risking a deadlock between claimers.
    """
    if session.in_transaction():
        session.commit()
    session.connection(execution_options={IMMEDIATE: True})


_GROUP_ATTRIBUTE = "loopdesk_write_group"


@dataclass(eq=False)
class _Unit:
    """One thread's unit of work waiting in a write group, and how it ended."""

    work: Callable[[Session], Any]
    done: threading.Event = field(default_factory=threading.Event)
    finished: bool = False
    result: Any = None
    error: BaseException | None = None


@dataclass
class _WriteGroup:
    """The SQLite engine's queue of small write units, and the lock of the thread leading."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    leading: threading.Lock = field(default_factory=threading.Lock)
    queue: list[_Unit] = field(default_factory=list)
    transactions: int = 0  # write transactions the leaders committed (tests, the benchmark)


def grouped_write(session: Session, work: Callable[[Session], T]) -> T:
    """Run `work(session)` in a write transaction and commit, sharing the transaction with
    the units other threads of this process are waiting to run (SQLite group commit).

    SQLite has one writer: 16 claimers each taking the writer lock for a two-statement lease
    spent more on BEGIN IMMEDIATE, COMMIT and handing the lock (and the GIL) from thread to
    thread than on the statements. Here the thread that finds no leader becomes one: it runs
    every queued unit, in arrival order, on *its* session in one transaction and commits;
    the others wait for their unit's outcome (units queued while it writes wait for the next
    leader, one of their owners, so no thread leads for long). A unit that raises is taken out, the
    transaction rolled back and the others run again without it (its owner gets the error;
    the others' work is not lost), so a unit must be safe to run again and must only use the
    session it is given. Units run in the leader's thread (its `keeping_rankings` state).
    Elsewhere (PostgreSQL: row locks, no single writer) it is `begin_write`, work, commit.
    """
    if session.in_transaction():
        session.commit()
    bind = session.get_bind()
    group: _WriteGroup | None = getattr(bind if isinstance(bind, Engine) else bind.engine,
                                        _GROUP_ATTRIBUTE, None)
    if group is None:
        begin_write(session)
        result = work(session)
        session.commit()
        return result
    unit = _Unit(work)
    with group.lock:
        group.queue.append(unit)
    while not unit.finished:
        if group.leading.acquire(blocking=False):
            try:
                _lead(session, group)
            finally:
                group.leading.release()
                with group.lock:  # a unit queued after the last drain: wake its owner
                    if group.queue:
                        group.queue[0].done.set()
        else:
            unit.done.wait()
            unit.done.clear()
    if unit.error is not None:
        raise unit.error
    return unit.result


def _lead(session: Session, group: _WriteGroup) -> None:
    """Run the units queued now (the caller's own among them) in one transaction; the caller
    leads. Units queued meanwhile wait for the next leader (`grouped_write` wakes one): a
    leader that drained until the queue ran dry would, under steady claims, never return to
    its own caller."""
    with group.lock:
        batch, group.queue = group.queue, []
    if not batch:
        return
    try:
        _run_batch(session, group, batch)
    except BaseException as error:
        # Outside any unit (BEGIN IMMEDIATE timed out behind another process, a lost
        # connection): every unit not decided yet gets that error, e.g. a lock conflict its
        # owner's `retrying` absorbs. Only an interrupt goes on up the leader's stack.
        session.rollback()
        for unit in batch:
            if not unit.finished:
                unit.error, unit.finished = error, True
        if not isinstance(error, Exception):
            raise
    finally:
        for unit in batch:
            unit.done.set()


def _run_batch(session: Session, group: _WriteGroup, batch: list[_Unit]) -> None:
    pending = list(batch)
    while pending:
        begin_write(session)
        failed: _Unit | None = None
        for unit in pending:
            try:
                unit.result = unit.work(session)
            except Exception as error:  # (handed to the unit's owner)
                session.rollback()
                unit.error, unit.finished, failed = error, True, unit
                break
        if failed is not None:
            pending = [unit for unit in pending if unit is not failed]
            continue
        try:
            session.commit()
        except Exception as error:  # (every unit of the transaction failed)
            session.rollback()
            for unit in pending:
                unit.error, unit.finished = error, True
            return
        group.transactions += 1
        for unit in pending:
            unit.finished = True
        return


def holds_writer(session: Session) -> bool:
    """Whether the session's open transaction already holds the writer lock (always true off
    SQLite, where row locks and the database's own concurrency control do this job)."""
    if session.get_bind().dialect.name != "sqlite":
        return True
    if not session.in_transaction():
        return False
    return bool(session.connection().info.get(_WRITER, False))


def ensure_writer(session: Session) -> None:
    """Make sure the session may write without upgrading a read transaction (SQLite).

    A transaction that has only read (nothing pending, nothing written) is ended and a
    `BEGIN IMMEDIATE` taken instead, so the first write cannot fail on a snapshot another
    commit overtook. A transaction that holds pending work is left alone (committing it early
    would break the caller's atomicity); a conflict there is for `retrying` to absorb.
    """
    if holds_writer(session):
        return
    if session.new or session.dirty or session.deleted:
        return
    begin_write(session)


def is_lock_conflict(error: BaseException) -> bool:
    """Whether a database error is a transient lock conflict worth retrying the operation."""
    if not isinstance(error, OperationalError | DBAPIError):
        return False
    text_of = str(getattr(error, "orig", error)).lower()
    return any(marker in text_of for marker in (
        "database is locked", "database table is locked", "sqlite_busy", "deadlock detected",
        "could not serialize access", "lock timeout"))


def retrying(session: Session | None, operation: Callable[[], T]) -> T:
    """Run a whole unit of work, rolling back and running it again on a lock conflict.

    Every write path commits as one transaction, so a rolled-back attempt left nothing behind
    and running it again is safe (claims and dispositions are also fenced by claim version).
    After `RETRY_ATTEMPTS` the last error is raised as `StoreBusy`, a user-facing message.
    """
    for attempt in range(1, RETRY_ATTEMPTS + 1):
        try:
            return operation()
        except DBAPIError as error:
            if not is_lock_conflict(error):
                raise
            if session is not None:
                session.rollback()
            if attempt == RETRY_ATTEMPTS:
                raise StoreBusy() from error
            time.sleep(random.uniform(0.5, 1.5) * RETRY_BACKOFF_S * attempt)
    raise AssertionError("unreachable")


def is_postgres(session: Session) -> bool:
    """Whether the session talks to PostgreSQL."""
    return session.get_bind().dialect.name == "postgresql"

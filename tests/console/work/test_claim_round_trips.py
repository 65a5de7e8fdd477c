"""PostgreSQL: a claim off the window is one round trip — the one lease statement in autocommit,
after the pool's ping only on a connection idle for a while — and still leases and audits
atomically; the lease is planned once per connection."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import text

from console.platform import db
from console.platform.db import get_engine, init_db, new_session
from console.work import window
from console.work.claims import claim_next
from tests.console.work.test_claims_concurrency import pg_url  # noqa: F401  (fixture)
from tests.factories import NOW, add_practice, add_worker, bulk_tasks


def _requests(trace: Path) -> int:
    """Requests the client sent that each wait for the server (a Sync or a simple Query)."""
    messages = Counter(line.split("\t")[3] for line in trace.read_text().splitlines()
                       if line.count("\t") >= 3 and line.split("\t")[1] == "F")
    return messages["Sync"] + messages["Query"]


@pytest.mark.postgres
def test_a_claim_off_the_window_is_one_statement_and_a_ping_after_idle(
    loopdesk_home: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    monkeypatch.setenv("LOOPDESK_DB_POOL_SIZE", "1")  # one pooled connection to watch
    monkeypatch.setattr(window, "WINDOW_LOW", 0)  # (claims off the window, no ranking ahead)
    engine = get_engine(pg_url + "?application_name=round_trips")
    init_db(engine)
    window.forget_windows()
    try:
        with new_session(engine) as session:
            practice = add_practice(session)
            bulk_tasks(session, practice, 30)
            user = add_worker(session, practices=["smile-ny"])
            assert claim_next(session=session, user=user, now=NOW) is not None  # ranks
            raw = engine.raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            # The ping leaves no transaction open (SQLAlchemy's `SELECT 1` opened one).
            engine.dialect.do_ping(driver)
            assert driver.info.transaction_status == TransactionStatus.IDLE
            assert driver.autocommit is False
            trace = loopdesk_home / "trace.txt"
            with trace.open("w") as out:
                driver.pgconn.trace(out.fileno())
                raw.close()
                claimed = [claim_next(session=session, user=user, now=NOW) for _ in range(3)]
                driver.pgconn.untrace()
            assert all(task is not None for task in claimed)
            # Back to back, the connection given back by the last claim is lent again
            # without a ping (BEGIN, ping, lease, COMMIT: 4 a claim before issue 14's pass;
            # ping and lease: 2 before the idle rule)
            assert _requests(trace) == 3 * 1
            # Idle longer than PING_AFTER_IDLE_S: pinged first.
            idle = db._ping_clock() + db.PING_AFTER_IDLE_S
            monkeypatch.setattr(db, "_ping_clock", lambda: idle)
            with trace.open("w") as out:
                driver.pgconn.trace(out.fileno())
                claimed.append(claim_next(session=session, user=user, now=NOW))
                driver.pgconn.untrace()
            assert claimed[-1] is not None
            assert _requests(trace) == 2
            assert driver.info.transaction_status == TransactionStatus.IDLE
            assert driver.autocommit is False  # given back as it was lent
            events = session.execute(text(
                "select object_ref from audit_events where action = 'claim'")).scalars().all()
            assert len(events) == 5
            assert {f"task:{task.task_id}" for task in claimed if task} <= set(events)
    finally:
        window.forget_windows()
        engine.dispose()


@pytest.mark.postgres
def test_the_lease_is_planned_once_per_connection_not_per_claim(
    loopdesk_home: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    """psycopg prepares the lease after five executions; PostgreSQL then keeps a generic plan
    only if it costs no more than the custom plans it made. With the candidate arrays at
    their real length (one candidate on most claims) each custom plan looked cheaper than
    the generic one, so every claim planned the statement again (0 generic plans)."""
    monkeypatch.setenv("LOOPDESK_DB_POOL_SIZE", "1")  # every claim on the one connection
    monkeypatch.setattr(window, "WINDOW_LOW", 0)  # (claims off the window, no ranking ahead)
    engine = get_engine(pg_url + "?application_name=lease_plans")
    init_db(engine)
    window.forget_windows()
    try:
        with new_session(engine) as session:
            practice = add_practice(session)
            # (enough rows that the planner walks the primary key per candidate, as on a
            # real store: on a tiny table any plan costs about the same)
            bulk_tasks(session, practice, 5000)
            session.execute(text("analyze tasks"))
            session.commit()
            user = add_worker(session, practices=["smile-ny"])
            claimed = [claim_next(session=session, user=user, now=NOW) for _ in range(16)]
            assert all(task is not None for task in claimed)
            assert len({task.task_id for task in claimed if task}) == 16
            plans = session.execute(text(
                "select generic_plans, custom_plans from pg_prepared_statements "
                "where statement like 'WITH l AS%UPDATE tasks%INSERT INTO audit_events%'")).all()
            assert len(plans) == 1
            generic, custom = plans[0]
            # psycopg prepares it at the sixth execution; the server then plans it five
            # times before it compares the generic plan (the first claim also ranked)
            assert (custom, generic) == (5, 16 - 5 - 5)
    finally:
        window.forget_windows()
        engine.dispose()


@pytest.mark.postgres
def test_a_connection_the_server_dropped_while_idle_is_replaced_before_a_claim(
    loopdesk_home: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    """The ping still hides a restarted server (here: the connection's backend killed) from a
    claim on a connection idle longer than PING_AFTER_IDLE_S."""
    import psycopg

    monkeypatch.setenv("LOOPDESK_DB_POOL_SIZE", "1")
    monkeypatch.setattr(window, "WINDOW_LOW", 0)
    engine = get_engine(pg_url + "?application_name=dropped_idle")
    init_db(engine)
    window.forget_windows()
    try:
        with new_session(engine) as session:
            practice = add_practice(session)
            bulk_tasks(session, practice, 10)
            user = add_worker(session, practices=["smile-ny"])
            assert claim_next(session=session, user=user, now=NOW) is not None
            pid = session.execute(text("select pg_backend_pid()")).scalar_one()
            session.rollback()
            with psycopg.connect(engine.url.set(drivername="postgresql").render_as_string(
                    hide_password=False), autocommit=True) as admin:
                # (waits until the backend is gone)
                assert admin.execute("select pg_terminate_backend(%s, 5000)", (pid,)).fetchone()
            idle = db._ping_clock() + db.PING_AFTER_IDLE_S
            monkeypatch.setattr(db, "_ping_clock", lambda: idle)
            assert claim_next(session=session, user=user, now=NOW) is not None
            assert session.execute(text("select pg_backend_pid()")).scalar_one() != pid
    finally:
        window.forget_windows()
        engine.dispose()

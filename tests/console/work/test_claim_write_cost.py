"""What a claim writes (issue 14): the queue indexes hold open tasks only and the ranking still
walks them (on SQLite, and in PostgreSQL's generic plans of prepared statements), the leased
row becomes the same Task the constructor makes, and only the lease's own transaction commits
without waiting for the disk."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, inspect, select, text
from sqlalchemy.engine import Engine

from console.models.work import Task, TaskStatus
from console.platform.db import get_engine, init_db, new_session
from console.work import claims, window
from console.work.claims import claim_next
from console.work.dispositions import log_disposition
from console.work.ranking import ranked
from tests.console.work.test_claims_concurrency import pg_url  # noqa: F401  (fixture)
from tests.factories import NOW, add_practice, add_worker, bulk_tasks, session_for, sqlite_engine
from warehouse.scope import Scope

AGENCY = Scope(agency_wide=True, practice_slugs=frozenset())
SCOPED = Scope(agency_wide=False, practice_slugs=frozenset({"smile-ny"}))


@contextmanager
def _ranking_statement(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Collect the ranking statements (text and parameters) run on `engine` in the block."""
    seen: list[tuple[str, Any]] = []

    def grab(_conn: Any, _cursor: Any, statement: str, params: Any, *_args: Any) -> None:
        if " score" in statement and "filled" in statement:
            seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", grab)


def _note(notices: list[str], diagnostic: Any) -> None:
    notices.append(diagnostic.message_primary or "")


def test_status_compares_with_a_literal_so_partial_indexes_apply() -> None:
    from sqlalchemy.dialects import postgresql, sqlite

    tasks = Task.__table__.c  # type: ignore[attr-defined]
    query = (select(tasks.task_id).where(tasks.status == TaskStatus.open)
             .where(tasks.status != "claimed").where(tasks.status == "not a status"))
    for dialect in (postgresql.dialect(), sqlite.dialect()):
        sql = str(query.compile(dialect=dialect))
        assert "tasks.status = 'open'" in sql and "tasks.status != 'claimed'" in sql
        assert "'not a status'" not in sql  # (any other value stays a bound parameter)


def test_on_sqlite_the_ranking_walks_the_open_tasks_indexes(loopdesk_home: Path) -> None:
    engine = sqlite_engine(loopdesk_home)
    with session_for(engine) as session:
        practice = add_practice(session)
        bulk_tasks(session, practice, 40)
        definitions = dict(session.execute(text(
            "select name, sql from sqlite_master where type = 'index'")).all())
        for name in ("ix_tasks_queue", "ix_tasks_practice_queue"):
            assert definitions[name].endswith("WHERE status = 'open'")
        for scope, index in ((AGENCY, "ix_tasks_queue"), (SCOPED, "ix_tasks_practice_queue")):
            with _ranking_statement(engine) as seen:
                scored, _ = ranked(session, scope=scope, now=NOW, callable_only=True,
                                   escalated=True, wanted=16)
            assert len(scored) >= 16
            statement, params = seen[-1]
            raw = session.connection().connection.dbapi_connection
            assert raw is not None
            plan = [row[3] for row in raw.execute("explain query plan " + statement, params)]
            # (the best rows' join back to the table is by primary key)
            walks = [step for step in plan if step.startswith(("SEARCH tasks", "SCAN tasks"))
                     and "PRIMARY KEY" not in step]
            assert walks and all(f"COVERING INDEX {index}" in step for step in walks), walks
            session.rollback()


@pytest.mark.postgres
def test_on_postgres_a_generic_plan_of_the_ranking_walks_the_open_tasks_indexes(
    loopdesk_home: Path, pg_url: str,  # noqa: F811
) -> None:
    # psycopg prepares a statement after five executions and PostgreSQL may then keep a
    # generic plan, which knows no parameter values: a bound `status = $1` could not use an
    # index `WHERE status = 'open'`, and the ranking would scan every open task.
    engine = get_engine(pg_url)
    init_db(engine)
    try:
        with new_session(engine) as session:
            practice = add_practice(session)
            bulk_tasks(session, practice, 40)
            session.execute(text("analyze tasks"))
            session.commit()
            for scope, index in ((AGENCY, "ix_tasks_queue"),
                                 (SCOPED, "ix_tasks_practice_queue")):
                with _ranking_statement(engine) as seen:
                    ranked(session, scope=scope, now=NOW, callable_only=True, escalated=True,
                           wanted=16)
                session.rollback()
                statement, params = seen[-1]
                notices: list[str] = []
                host = engine.url
                with psycopg.connect(host=host.host, port=host.port, user=host.username,
                                     dbname=host.database, autocommit=True) as raw:
                    raw.add_notice_handler(partial(_note, notices))
                    for setting in ("load 'auto_explain'",
                                    "set auto_explain.log_min_duration = 0",
                                    "set auto_explain.log_level = notice",
                                    "set enable_seqscan = off",  # (40 rows: any plan is cheap)
                                    "set plan_cache_mode = force_generic_plan"):
                        raw.execute(setting)
                    raw.execute(statement, params, prepare=True).fetchall()
                plan = next(n for n in notices if "score" in n)
                assert f"Index Only Scan Backward using {index}" in plan, plan
                assert "Seq Scan on tasks" not in plan, plan
    finally:
        engine.dispose()


def test_the_leased_row_becomes_the_task_the_constructor_makes(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        bulk_tasks(session, practice, 5)
        row = session.execute(select(*Task.__table__.c)).first()  # type: ignore[attr-defined]
        assert row is not None
        built, constructed = claims._task_of(row), Task(**row._asdict())
        assert built.model_dump() == constructed.model_dump()
        assert {c.name: getattr(built, c.name) for c in Task.__table__.c} == row._asdict()  # type: ignore[attr-defined]
        assert inspect(built).transient and not session.dirty
        user = add_worker(session, practices=["smile-ny"])
        claimed = claim_next(session=session, user=user, now=NOW)
        assert claimed is not None and claimed.status == "claimed"
        stored = session.get(Task, claimed.task_id, populate_existing=True)
        assert stored is not None and stored.model_dump() == claimed.model_dump()


@pytest.mark.postgres
def test_only_the_lease_commits_without_waiting_for_the_disk(
    loopdesk_home: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    monkeypatch.setenv("LOOPDESK_DB_POOL_SIZE", "1")  # one connection: the claim's and the log's
    engine = get_engine(pg_url + "?application_name=write_cost")
    init_db(engine)
    window.forget_windows()
    statements: list[str] = []

    def grab(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    try:
        with new_session(engine) as session:
            practice = add_practice(session)
            bulk_tasks(session, practice, 10)
            user = add_worker(session, practices=["smile-ny"])
            event.listen(engine, "before_cursor_execute", grab)
            claimed = claim_next(session=session, user=user, now=NOW)
            event.remove(engine, "before_cursor_execute", grab)
            assert claimed is not None
            lease = [s for s in statements if "INSERT INTO audit_events" in s]
            assert len(lease) == 1 and "set_config('synchronous_commit', 'off', true)" in lease[0]
            # Local to the lease's transaction: the connection (next a disposition's) is back
            # to the server's setting.
            assert session.execute(text("show synchronous_commit")).scalar_one() == "on"
            session.rollback()
            log_disposition(session=session, user=user, task_id=claimed.task_id or 0,
                            claim_version=claimed.claim_version, disposition="no_answer",
                            minutes=3, notes="", callback_at=None, lead=None, now=NOW)
            assert session.execute(text("show synchronous_commit")).scalar_one() == "on"
            events = session.execute(text(
                "select action from audit_events order by id")).scalars().all()
            assert events[-2:] == ["claim", "disposition"]
    finally:
        window.forget_windows()
        engine.dispose()

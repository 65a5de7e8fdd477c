"""The audit chain and identity tables on the real PostgreSQL (CI=true: must run, never skip)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

import console.models.registry  # noqa: F401  (registers every table)
from console.identity.audit import Action, Outcome, count_events, record, verify_chain
from console.identity.auth import resolve_session, start_session
from tests.console.access_helpers import NOW, cheap_argon2, make_user
from tests.postgres import fresh_database

__all__ = ["cheap_argon2"]


pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_engine(loopdesk_home: object) -> Iterator[Engine]:
    """An engine on a fresh database, dropped afterwards."""
    with fresh_database("loopdesk_audit") as url:
        engine = create_engine(url, pool_size=8, max_overflow=0)
        try:
            SQLModel.metadata.create_all(engine)
            yield engine
        finally:
            engine.dispose()


def test_chain_round_trips_through_timestamptz(pg_engine: Engine) -> None:
    with Session(pg_engine) as session:
        for index in range(3):
            record(
                session=session,
                actor="user:1",
                action=Action.view_patient,
                practice_slug="alpha",
                object_ref=f"patient:{index}",
                outcome=Outcome.success,
                now=NOW + timedelta(microseconds=index * 7),
            )
        session.commit()
    with Session(pg_engine) as session:
        assert verify_chain(session=session) is None


def test_concurrent_appends_keep_one_unbroken_chain(pg_engine: Engine) -> None:
    def append(worker: int) -> None:
        for index in range(15):
            with Session(pg_engine) as session:
                record(
                    session=session,
                    actor=f"user:{worker}",
                    action=Action.claim,
                    practice_slug="alpha",
                    object_ref=f"task:{index}",
                    outcome=Outcome.success,
                    now=NOW,
                )
                session.commit()

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(append, range(6)))
    with Session(pg_engine) as session:
        assert count_events(session=session) == 90
        assert verify_chain(session=session) is None


def test_sessions_on_postgres(pg_engine: Engine, cheap_argon2: None) -> None:
    with Session(pg_engine, expire_on_commit=False) as session:
        user = make_user(session, "ana@agency.test", practices=("alpha",))
        token = start_session(session=session, user=user, now=NOW)
        later = NOW + timedelta(minutes=10)
        current = resolve_session(session=session, token=token, now=later)
        assert current is not None and current.practice_slugs == frozenset({"alpha"})
        assert (
            resolve_session(session=session, token=token, now=later + timedelta(minutes=31)) is None
        )

"""Shared fixtures for the access-area tests: an in-memory store and users with known passwords."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import cache

import pytest
from argon2 import PasswordHasher
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, create_engine

import console.models.registry  # noqa: F401  (registers every table)
from console.identity import passwords
from console.models.identity import User, UserPractice

PASSWORD = "correct horse battery staple"
NOW = datetime.fromisoformat("2026-11-26T15:00:00+00:00")


# argon2id with tiny cost parameters: the same code paths, a thousandth of the work.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@cache
def known_hash() -> str:
    """One cheap argon2 hash of PASSWORD, made once so tests stay fast."""
    return CHEAP_HASHER.hash(PASSWORD)


@pytest.fixture
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make the password module hash with cheap parameters for the duration of a test."""
    monkeypatch.setattr(passwords, "_HASHER", CHEAP_HASHER)
    passwords._dummy_hash.cache_clear()
    yield
    passwords._dummy_hash.cache_clear()


@pytest.fixture
def store(loopdesk_home: object, cheap_argon2: None) -> Iterator[Session]:
    """A session on a fresh in-memory operational store (with cheap argon2 parameters)."""
    engine = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    SQLModel.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


def make_user(
    session: Session,
    email: str,
    role: str = "coordinator",
    practices: tuple[str, ...] = (),
    active: bool = True,
) -> User:
    """Insert a user whose password is PASSWORD."""
    user = User(email=email, role=role, password_hash=known_hash(), active=active, created_at=NOW)
    session.add(user)
    session.flush()
    assert user.user_id is not None
    for slug in practices:
        session.add(UserPractice(user_id=user.user_id, practice_slug=slug))
    session.commit()
    return user

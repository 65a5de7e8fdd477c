"""Operational-store tables: users, practices they see, sessions, logins, report links, audit."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, DateTime, Index, text
from sqlmodel import Field, SQLModel


class Role(StrEnum):
    """What a user is in the agency."""

    coordinator = "coordinator"
    manager = "manager"
    client_owner = "client_owner"
    admin = "admin"


class User(SQLModel, table=True):
    """One row per person who logs in."""

    __tablename__ = "users"

    user_id: int | None = Field(default=None, primary_key=True)
    email: str = Field(index=True, unique=True, max_length=320)
    role: str = Field(description="a Role value")
    password_hash: str
    active: bool = True
    created_at: datetime
    # A coordinator's contracted hours per week (Mon-Fri), set by a manager on Capacity;
    # None means the agency default (console.views.capacity.DEFAULT_WEEKLY_HOURS).
    weekly_hours: float | None = None


class UserPractice(SQLModel, table=True):
    """One row per (user, practice) the user may see."""

    __tablename__ = "user_practices"

    user_id: int = Field(foreign_key="users.user_id", primary_key=True)
    practice_slug: str = Field(primary_key=True, max_length=64)


def _utc_column(*, nullable: bool = False, index: bool = False) -> Column[datetime]:
    """A timezone-aware timestamp column (naive values are read back as UTC by the services)."""
    return Column(DateTime(timezone=True), nullable=nullable, index=index)


class UserSession(SQLModel, table=True):
    """One row per console login: the server-side half of a session token (its `jti`)."""

    __tablename__ = "user_sessions"

    session_id: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="users.user_id", index=True)
    created_at: datetime = Field(sa_column=_utc_column())
    last_seen_at: datetime = Field(sa_column=_utc_column())
    expires_at: datetime = Field(sa_column=_utc_column(), description="absolute limit")
    ended_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


class LoginAttempt(SQLModel, table=True):
    """One row per login attempt; keys are keyed hashes, so no email is stored in clear."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_email_time", "email_key", "attempted_at"),
        Index("ix_login_attempts_client_time", "client_key", "attempted_at"),
    )

    attempt_id: int | None = Field(default=None, primary_key=True)
    email_key: str = Field(max_length=64)
    client_key: str = Field(max_length=64)
    succeeded: bool
    attempted_at: datetime = Field(sa_column=_utc_column())


class ReportLink(SQLModel, table=True):
    """One row per read-only report link handed to a client owner; revocable by its `jti`."""

    __tablename__ = "report_links"

    jti: str = Field(primary_key=True, max_length=64)
    practice_slug: str = Field(index=True, max_length=64)
    created_by: str = Field(max_length=64, description="actor reference, never a name")
    created_at: datetime = Field(sa_column=_utc_column())
    expires_at: datetime = Field(sa_column=_utc_column())
    revoked_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


class AuditEvent(SQLModel, table=True):
    """One row per audited action; append-only. `id` is assigned by the database when the row
    is appended; `seq`, `prev_hash` and `hash` when the sealer links it into the hash chain
    (NULL until then: the unsealed tail). See console/identity/audit.py."""

    __tablename__ = "audit_events"
    __table_args__ = (
        # The sealer's work list: rows not yet in the chain, in append order.
        Index("ix_audit_events_unsealed", "id", sqlite_where=text("seq is null"),
              postgresql_where=text("seq is null")),
    )

    id: int | None = Field(default=None, primary_key=True)
    seq: int | None = Field(default=None, unique=True, index=True,
                            description="position in the hash chain (1, 2, …) once sealed")
    occurred_at: datetime = Field(sa_column=_utc_column(index=True))
    actor: str = Field(max_length=64, description="e.g. user:12, cli, report_link:<jti>")
    action: str = Field(index=True, max_length=32)
    practice_slug: str | None = Field(default=None, index=True, max_length=64)
    object_ref: str | None = Field(default=None, max_length=128, description="ids only")
    outcome: str = Field(max_length=32)
    prev_hash: str | None = Field(default=None, max_length=64, unique=True)
    hash: str | None = Field(default=None, max_length=64)

"""Operational-store tables: users and the practices they may see."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

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


class UserPractice(SQLModel, table=True):
    """One row per (user, practice) the user may see."""

    __tablename__ = "user_practices"

    user_id: int = Field(foreign_key="users.user_id", primary_key=True)
    practice_slug: str = Field(primary_key=True, max_length=64)

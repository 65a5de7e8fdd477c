"""Factories for valid operational-store objects and tiny warehouse snapshots (reused by suites)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy.engine import Engine
from sqlmodel import Session

from console.identity.access import CurrentUser, current_user
from console.models.identity import Role, User, UserPractice
from console.models.practice import PracticeSettings
from console.models.work import Task
from console.platform.db import get_engine, init_db, new_session
from console.work.refresh import add_task as add_scored_task

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)  # Thursday, 10:00 in New York
DUMMY_HASH = "not-a-real-hash"
_counter = itertools.count(1)


def sqlite_engine(home: Path) -> Engine:
    """A fresh SQLite operational store under a test home, tables created."""
    engine = get_engine(f"sqlite:///{home / 'loopdesk.db'}")
    init_db(engine)
    return engine


def session_for(engine: Engine) -> Session:
    """A session whose objects stay readable after commit."""
    return new_session(engine)


def add_practice(
    session: Session, slug: str = "smile-ny", *, timezone: str = "America/New_York",
    contracted_hours: float = 10.0, **fields: Any,
) -> PracticeSettings:
    """A practice with settings (open Mon–Fri 09:00–17:00 unless told)."""
    practice = PracticeSettings(practice_slug=slug, name=slug.title(), specialty="dental",
                                timezone=timezone, contracted_hours_per_week=contracted_hours,
                                **fields)
    session.add(practice)
    session.commit()
    return practice


def add_user(
    session: Session, email: str | None = None, *, role: Role = Role.coordinator,
    practices: Sequence[str] = (), active: bool = True,
) -> User:
    """A user (dummy password hash) assigned to the given practices."""
    user = User(email=email or f"user{next(_counter)}@agency.test", role=role,
                password_hash=DUMMY_HASH, active=active, created_at=NOW)
    session.add(user)
    session.flush()
    for slug in practices:
        session.add(UserPractice(user_id=user.user_id or 0, practice_slug=slug))
    session.commit()
    return user


def add_task(
    session: Session, practice: PracticeSettings, *, kind: str = "ask",
    subject_id: str | None = None, case_value: float = 5000.0,
    decay_from: datetime | None = None, sla_deadline: datetime | None = None,
    due_at: datetime | None = None, satisfaction: float | None = 9.0, consent_call: bool = True,
    now: datetime = NOW, **fields: Any,
) -> Task:
    """An open task scored like refresh scores it; `fields` override stored columns."""
    n = next(_counter)
    subject_type = "lead" if kind == "contact_lead" else "patient"
    subject = subject_id or f"{subject_type}-{n}"
    decay = decay_from or now - timedelta(days=1)
    task = add_scored_task(
        session=session, practice=practice, now=now,
        fields={
            "natural_key": f"{kind}:{practice.practice_slug}:t{n}",
            "kind": kind, "practice_slug": practice.practice_slug,
            "subject_type": subject_type, "subject_id": subject,
            "patient_id": subject if subject_type == "patient" else None,
            "lead_id": subject if subject_type == "lead" else None,
            "treatment_id": f"tr-{n}" if kind == "ask" else None,
            "category": "implant" if kind == "ask" else None,
            "case_value": case_value,
            "satisfaction_score": satisfaction if subject_type == "patient" else None,
            "consent_call": consent_call, "do_not_contact": False,
            "due_at": due_at or decay, "sla_deadline": sla_deadline or now + timedelta(days=6),
            "decay_from": decay,
        },
    )
    for name, value in fields.items():
        setattr(task, name, value)
    session.add(task)
    session.commit()
    return task


# Exact mart shapes task B publishes (see the brief); tests fill them with literal rows.
MART_COLUMNS: dict[str, dict[str, str]] = {
    "mart_practices": {
        "practice_slug": "varchar", "name": "varchar", "specialty": "varchar",
        "timezone": "varchar", "contracted_hours_per_week": "double",
        "onboarded_at": "timestamptz",
    },
    "mart_patients": {
        "practice_slug": "varchar", "patient_id": "varchar", "first_name": "varchar",
        "last_name": "varchar", "phone": "varchar", "email": "varchar",
        "consent_call": "boolean", "consent_text": "boolean", "consent_email": "boolean",
        "do_not_contact": "boolean", "satisfaction_score": "double",
    },
    "mart_ask_candidates": {
        "practice_slug": "varchar", "patient_id": "varchar", "treatment_id": "varchar",
        "category": "varchar", "treatment_value": "double", "results_visible_at": "timestamptz",
        "satisfaction_score": "double", "consent_call": "boolean", "consent_text": "boolean",
        "consent_email": "boolean",
    },
    "mart_leads": {
        "practice_slug": "varchar", "lead_id": "varchar", "referrer_patient_id": "varchar",
        "lead_first_name": "varchar", "lead_last_name": "varchar", "lead_phone": "varchar",
        "lead_email": "varchar", "source": "varchar", "referred_at": "timestamptz",
        "status": "varchar", "status_at": "timestamptz", "booked_value": "double",
        "became_patient_id": "varchar", "first_contact_at": "timestamptz",
        "has_outcome": "boolean", "outcome_at": "timestamptz", "loop_closed_at": "timestamptz",
        "first_reached_at": "timestamptz",
    },
    "mart_review_candidates": {
        "practice_slug": "varchar", "patient_id": "varchar", "treatment_id": "varchar",
        "results_visible_at": "timestamptz", "satisfaction_score": "double",
    },
    "mart_practice_rates": {
        "practice_slug": "varchar", "avg_case_value": "double", "lead_conversion": "double",
        "p_refer_given_asked": "double", "median_minutes_ask": "double",
        "median_minutes_follow_up": "double", "median_minutes_contact_lead": "double",
        "median_minutes_close_loop": "double",
    },
}  # fmt: skip


def snapshot(**tables: Sequence[dict[str, Any]]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with every mart, holding the given rows (missing columns null)."""
    connection = duckdb.connect(":memory:")
    connection.execute("set timezone = 'UTC'")
    for name, columns in MART_COLUMNS.items():
        ddl = ", ".join(f"{column} {kind}" for column, kind in columns.items())
        connection.execute(f"create table {name} ({ddl})")
        rows = tables.get(name, ())
        if rows:
            placeholders = ", ".join("?" for _ in columns)
            connection.executemany(
                f"insert into {name} values ({placeholders})",
                [[row.get(column) for column in columns] for row in rows],
            )
    return connection


def practice_row(slug: str = "smile-ny", timezone: str = "America/New_York") -> dict[str, Any]:
    """A mart_practices row."""
    return {"practice_slug": slug, "name": slug.title(), "specialty": "dental",
            "timezone": timezone, "contracted_hours_per_week": 10.0,
            "onboarded_at": NOW - timedelta(days=400)}


def patient_row(patient_id: str, slug: str = "smile-ny", **fields: Any) -> dict[str, Any]:
    """A mart_patients row: consents on every channel, contactable, satisfied."""
    return {"practice_slug": slug, "patient_id": patient_id, "first_name": "Pat",
            "last_name": "Example", "phone": "+12125550100", "email": "pat@example.test",
            "consent_call": True, "consent_text": True, "consent_email": True,
            "do_not_contact": False, "satisfaction_score": 9.0} | fields


def ask_row(patient_id: str, treatment_id: str, slug: str = "smile-ny",
            **fields: Any) -> dict[str, Any]:
    """A mart_ask_candidates row whose results became visible two days ago."""
    return {"practice_slug": slug, "patient_id": patient_id, "treatment_id": treatment_id,
            "category": "implant", "treatment_value": 12000.0,
            "results_visible_at": NOW - timedelta(days=2), "satisfaction_score": 9.0,
            "consent_call": True, "consent_text": True, "consent_email": True} | fields


def lead_row(lead_id: str, referrer: str, slug: str = "smile-ny", **fields: Any) -> dict[str, Any]:
    """A new mart_leads row referred an hour ago, not yet contacted."""
    return {"practice_slug": slug, "lead_id": lead_id, "referrer_patient_id": referrer,
            "lead_first_name": "Lee", "lead_last_name": "Friend", "lead_phone": "+12125550199",
            "lead_email": None, "source": "export", "referred_at": NOW - timedelta(hours=1),
            "status": "new", "status_at": NOW - timedelta(hours=1), "booked_value": None,
            "became_patient_id": None, "first_contact_at": None, "has_outcome": False,
            "outcome_at": None, "loop_closed_at": None, "first_reached_at": None} | fields


def rates_row(slug: str = "smile-ny") -> dict[str, Any]:
    """A mart_practice_rates row."""
    return {"practice_slug": slug, "avg_case_value": 6000.0, "lead_conversion": 0.5,
            "p_refer_given_asked": 0.3, "median_minutes_ask": 8.0,
            "median_minutes_follow_up": 6.0, "median_minutes_contact_lead": 6.0,
            "median_minutes_close_loop": 5.0}


def bulk_tasks(session: Session, practice: PracticeSettings, count: int,
               now: datetime = NOW) -> list[int]:
    """`count` open ask tasks for distinct patients, inserted in one statement; their ids."""
    from sqlalchemy import insert, select

    rows = [
        {
            "natural_key": f"ask:{practice.practice_slug}:bulk{i}", "kind": "ask",
            "practice_slug": practice.practice_slug, "practice_tz": practice.timezone,
            "subject_type": "patient", "subject_id": f"bulk-{i}", "patient_id": f"bulk-{i}",
            "attempt": 1, "case_value": 1000.0 + i, "consent_call": True,
            "do_not_contact": False, "created_at": now, "due_at": now - timedelta(days=1),
            "sla_deadline": now + timedelta(days=(i % 9) - 2), "decay_from": now,
            "value": 100.0 + i, "p_success": 0.5, "expected_minutes": 8.0,
            "rank_key": float(i % 97), "status": "open", "escalated": False,
            "claim_version": 0, "claim_count": 0,
        }
        for i in range(count)
    ]
    session.execute(insert(Task), rows)
    session.commit()
    query = select(Task.__table__.c.task_id).where(  # type: ignore[attr-defined]
        Task.__table__.c.practice_slug == practice.practice_slug  # type: ignore[attr-defined]
    )
    return list(session.execute(query).scalars())


def acting(session: Session, user: User) -> CurrentUser:
    """The stored user as the services take them (console.identity.access builds it once per
    request, from the store)."""
    built = current_user(session=session, user_id=user.user_id or 0)
    assert built is not None, "an inactive or unknown user has no CurrentUser"
    return built


def add_worker(
    session: Session, email: str | None = None, *, role: Role = Role.coordinator,
    practices: Sequence[str] = (),
) -> CurrentUser:
    """An active user (as `add_user`) as the queue services take them."""
    return acting(session, add_user(session, email, role=role, practices=practices))


def learned_hour_rows(team_hours: range, days: int = 10) -> list[dict[str, Any]]:
    """LearnedRate rows for the hour-of-day rates: patients answer 20 % at 09:00–11:00 New York
    time and 50 % at 14:00–16:00 (300 calls each); the team called in `team_hours` (UTC) on
    each of its last `days` calling days."""
    rows: list[dict[str, Any]] = [
        {"measure": "answer_all", "cell_group": "patient", "band": "all",
         "successes": 630, "trials": 1800, "prior": 0.5, "estimate": 0.35}]
    for hour, rate in ((9, 0.2), (10, 0.2), (11, 0.2), (14, 0.5), (15, 0.5), (16, 0.5)):
        rows.append({"measure": "answer_hour", "cell_group": "patient", "band": str(hour),
                     "successes": int(300 * rate), "trials": 300, "prior": 0.5,
                     "estimate": rate})
    for hour in range(24):
        called = days if hour in team_hours else 0
        rows.append({"measure": "team_hour", "cell_group": "team", "band": str(hour),
                     "successes": called, "trials": days, "prior": 0.0,
                     "estimate": called / (days + 20)})
    return rows

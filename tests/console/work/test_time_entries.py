"""Time entries: admin touches for a practice, scope-checked, bounded and audited."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from console.identity.access import CurrentUser, current_user
from console.identity.audit import verify_chain
from console.lifecycle.ops_export import export_operational_events
from console.models.identity import AuditEvent, Role, User
from console.models.work import Touch
from console.platform.errors import NotAuthorised, UserError
from console.work.time_entries import log_time
from tests.factories import NOW, add_practice, add_user, session_for, sqlite_engine


def _acting(session: Session, user: User) -> CurrentUser:
    acting = current_user(session=session, user_id=user.user_id or 0)
    assert acting is not None
    return acting


def _events(session: Session) -> list[tuple[str, str, str | None, str | None, str]]:
    rows = session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all()
    return [(e.actor, e.action, e.practice_slug, e.object_ref, e.outcome) for e in rows]


@pytest.fixture
def db(loopdesk_home: Path) -> Session:
    """A store with two practices and no events."""
    session = session_for(sqlite_engine(loopdesk_home))
    add_practice(session, "smile-ny")
    add_practice(session, "glow-az", timezone="America/Phoenix")
    return session


def test_logs_an_admin_touch_without_a_person_or_task(db: Session) -> None:
    user = _acting(db, add_user(db, practices=["smile-ny"]))
    touch = log_time(session=db, user=user, practice_slug="smile-ny", minutes=45,
                     note="  monthly report prep ", now=NOW)
    stored = db.exec(select(Touch)).one()
    assert stored.touch_id == touch.touch_id
    assert (stored.channel, stored.subject_type, stored.subject_id) == (
        "admin", "practice", "smile-ny")
    assert stored.task_id is None and stored.patient_id is None and stored.lead_id is None
    assert stored.disposition is None
    assert stored.coordinator_id == user.user_id
    assert stored.minutes == 45.0 and stored.notes == "monthly report prep"
    assert stored.ended_at == NOW
    assert stored.started_at == NOW - timedelta(minutes=45)


def test_success_is_audited_by_id_and_the_chain_holds(db: Session) -> None:
    user = _acting(db, add_user(db, practices=["smile-ny"]))
    touch = log_time(session=db, user=user, practice_slug="smile-ny", minutes=20, note=None,
                     now=NOW)
    assert _events(db) == [(f"user:{user.user_id}", "time_entry", "smile-ny",
                            f"touch:{touch.touch_id}", "success")]
    assert verify_chain(session=db) is None


def test_a_practice_outside_scope_is_refused_and_audited(db: Session) -> None:
    user = _acting(db, add_user(db, practices=["smile-ny"]))
    with pytest.raises(NotAuthorised):
        log_time(session=db, user=user, practice_slug="glow-az", minutes=30, note=None, now=NOW)
    assert db.exec(select(Touch)).all() == []
    assert _events(db) == [(f"user:{user.user_id}", "time_entry", "glow-az", None, "denied")]


def test_a_client_owner_may_not_log_time_even_for_their_practice(db: Session) -> None:
    owner = _acting(db, add_user(db, role=Role.client_owner, practices=["smile-ny"]))
    with pytest.raises(NotAuthorised):
        log_time(session=db, user=owner, practice_slug="smile-ny", minutes=30, note=None,
                 now=NOW)
    assert db.exec(select(Touch)).all() == []


@pytest.mark.parametrize("minutes", [0.0, -5.0, 480.5, 10_000.0, float("nan"), float("inf")])
def test_minutes_outside_zero_to_480_are_refused(db: Session, minutes: float) -> None:
    user = _acting(db, add_user(db, practices=["smile-ny"]))
    with pytest.raises(UserError, match="minutes"):
        log_time(session=db, user=user, practice_slug="smile-ny", minutes=minutes, note=None,
                 now=NOW)
    assert db.exec(select(Touch)).all() == []
    assert _events(db) == []


@pytest.mark.parametrize("minutes", [0.5, 480.0])
def test_the_bounds_themselves(db: Session, minutes: float) -> None:
    user = _acting(db, add_user(db, practices=["smile-ny"]))
    touch = log_time(session=db, user=user, practice_slug="smile-ny", minutes=minutes, note="",
                     now=NOW)
    assert touch.minutes == minutes


def test_a_manager_may_log_for_any_practice_but_not_an_unknown_one(db: Session) -> None:
    manager = _acting(db, add_user(db, role=Role.manager))
    log_time(session=db, user=manager, practice_slug="glow-az", minutes=15, note=None, now=NOW)
    with pytest.raises(UserError, match="no practice"):
        log_time(session=db, user=manager, practice_slug="nowhere", minutes=15, note=None,
                 now=NOW)
    assert [t.practice_slug for t in db.exec(select(Touch))] == ["glow-az"]


def test_time_entries_flow_into_ops_touches(db: Session) -> None:
    user = _acting(db, add_user(db, practices=["smile-ny"]))
    log_time(session=db, user=user, practice_slug="smile-ny", minutes=60, note="notes",
             now=NOW)
    exported = export_operational_events(session=db)["ops_touches"].to_pylist()
    assert [(r["practice_slug"], r["channel"], r["minutes"], r["coordinator_id"],
             r["patient_id"], r["task_id"]) for r in exported] == [
        ("smile-ny", "admin", 60.0, user.user_id, None, None)]

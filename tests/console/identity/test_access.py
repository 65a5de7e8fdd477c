"""A user's scope comes from the stored identity only (SECURITY 6-7)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from console.identity.access import (
    CurrentUser,
    acting_as,
    current_user,
    require_practice,
    require_role,
)
from console.identity.users import add_user, set_practices
from console.models.identity import AuditEvent, Role, User
from console.platform.errors import NotAuthorised, UserError
from tests.console.access_helpers import NOW, cheap_argon2, make_user, store
from warehouse.scope import Scope

__all__ = ["cheap_argon2", "store"]


def _scope(session: Session, user: User) -> Scope:
    """What the stored user may read, as the one acting user says (none without one)."""
    acting = current_user(session=session, user_id=user.user_id or 0)
    return acting.scope if acting is not None else Scope()


def _acting(session: Session, user: User) -> CurrentUser:
    acting = current_user(session=session, user_id=user.user_id or 0)
    assert acting is not None
    return acting


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("coordinator", Scope.of(["alpha"])),
        ("client_owner", Scope.of(["alpha"])),
        ("manager", Scope.agency()),
        ("admin", Scope.agency()),
    ],
)
def test_scope_by_role(store: Session, role: str, expected: Scope) -> None:
    user = make_user(store, f"{role}@agency.test", role=role, practices=("alpha",))
    assert _scope(store, user) == expected


def test_inactive_user_sees_nothing(store: Session) -> None:
    user = make_user(store, "gone@agency.test", role="manager", active=False)
    assert _scope(store, user) == Scope()
    assert user.user_id is not None
    assert current_user(session=store, user_id=user.user_id) is None


def test_user_with_no_practices_sees_nothing(store: Session) -> None:
    user = make_user(store, "new@agency.test")
    scope = _scope(store, user)
    assert not scope.allows("alpha") and scope.restrict(["alpha", "beta"]) == []


@pytest.mark.parametrize(
    ("role", "expected", "escalated"),
    [
        ("coordinator", Scope.of(["alpha"]), False),
        ("client_owner", Scope(), False),  # reads their practices, never works the queue
        ("manager", Scope.agency(), True),
        ("admin", Scope.agency(), True),
    ],
)
def test_work_scope_by_role(store: Session, role: str, expected: Scope, escalated: bool) -> None:
    user = make_user(store, f"{role}@agency.test", role=role, practices=("alpha",))
    acting = _acting(store, user)
    assert acting.work_scope == expected
    assert acting.sees_escalated is escalated


def test_the_cli_acts_as_the_same_user_by_email(store: Session) -> None:
    user = make_user(store, "ana.lee@agency.test", practices=("alpha",))
    assert acting_as(session=store, email="  Ana.Lee@Agency.TEST ") == _acting(store, user)
    make_user(store, "gone@agency.test", active=False)
    for email in ("gone@agency.test", "nobody@agency.test"):
        with pytest.raises(UserError, match="no active user"):
            acting_as(session=store, email=email)


def test_role_and_practice_checks(store: Session) -> None:
    user = make_user(store, "c@agency.test", role="client_owner", practices=("alpha",))
    assert user.user_id is not None
    current = current_user(session=store, user_id=user.user_id)
    assert current is not None and current.actor == f"user:{user.user_id}"
    require_practice(current, "alpha")
    with pytest.raises(NotAuthorised):
        require_practice(current, "beta")
    require_role(current, [Role.client_owner])
    with pytest.raises(NotAuthorised):
        require_role(current, [Role.manager, Role.admin])


def test_practice_changes_are_audited_per_practice(store: Session) -> None:
    user = add_user(
        session=store,
        email="c@agency.test",
        role="coordinator",
        password="long-password-1",
        practice_slugs=["alpha", "beta"],
        actor="user:1",
        now=NOW,
    )
    assert user.user_id is not None
    set_practices(
        session=store,
        user_id=user.user_id,
        practice_slugs=["beta", "gamma"],
        actor="user:1",
        now=NOW,
    )
    events = store.exec(select(AuditEvent).where(AuditEvent.action == "practice_change")).all()
    changes = [(event.practice_slug, event.outcome) for event in events]
    assert changes == [
        ("alpha", "granted"),
        ("beta", "granted"),
        ("gamma", "granted"),
        ("alpha", "revoked"),
    ]
    assert all(event.object_ref == f"user:{user.user_id}" for event in events)

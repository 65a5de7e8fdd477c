"""A user's scope comes from the stored identity only (SECURITY 6-7)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from console.identity.access import current_user, require_practice, require_role, scope_for
from console.identity.users import add_user, set_practices
from console.models.identity import AuditEvent, Role
from console.platform.errors import NotAuthorised
from tests.console.access_helpers import NOW, cheap_argon2, make_user, store
from warehouse.scope import Scope

__all__ = ["cheap_argon2", "store"]


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
    assert scope_for(session=store, user=user) == expected


def test_inactive_user_sees_nothing(store: Session) -> None:
    user = make_user(store, "gone@agency.test", role="manager", active=False)
    assert scope_for(session=store, user=user) == Scope()
    assert user.user_id is not None
    assert current_user(session=store, user_id=user.user_id) is None


def test_user_with_no_practices_sees_nothing(store: Session) -> None:
    user = make_user(store, "new@agency.test")
    scope = scope_for(session=store, user=user)
    assert not scope.allows("alpha") and scope.restrict(["alpha", "beta"]) == []


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

"""Who may see what: a user's scope and role checks, always read from the store (SECURITY 5-7)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, select

from console.models.identity import Role, User, UserPractice
from console.platform.errors import NotAuthorised
from warehouse.scope import Scope

# Roles whose scope is the whole agency; everyone else sees only assigned practices.
AGENCY_WIDE_ROLES = frozenset({Role.manager, Role.admin})
# Roles that may manage users, practices and report links.
ADMIN_ROLES = frozenset({Role.manager, Role.admin})


@dataclass(frozen=True)
class CurrentUser:
    """The acting user as pages and services see it; rebuilt from the store on every request."""

    user_id: int
    email: str
    role: Role
    practice_slugs: frozenset[str]
    scope: Scope

    @property
    def actor(self) -> str:
        """How the audit log refers to this user (an id, never the email)."""
        return actor_ref(self.user_id)


def actor_ref(user_id: int | None) -> str:
    """The audit actor reference of a user id."""
    return f"user:{user_id}"


def practices_of(*, session: Session, user_id: int) -> frozenset[str]:
    """The practices assigned to a user."""
    rows = session.exec(select(UserPractice.practice_slug).where(UserPractice.user_id == user_id))
    return frozenset(rows.all())


def scope_for(*, session: Session, user: User) -> Scope:
    """The tenant scope of `user`: agency-wide for managers/admins, else assigned practices."""
    if not user.active or user.user_id is None:
        return Scope()
    if Role(user.role) in AGENCY_WIDE_ROLES:
        return Scope.agency()
    return Scope.of(practices_of(session=session, user_id=user.user_id))


def current_user(*, session: Session, user_id: int) -> CurrentUser | None:
    """The active user `user_id` with role and practices as stored right now, else None."""
    user = session.get(User, user_id)
    if user is None or not user.active or user.user_id is None:
        return None
    try:
        role = Role(user.role)
    except ValueError:
        return None
    slugs = practices_of(session=session, user_id=user.user_id)
    scope = Scope.agency() if role in AGENCY_WIDE_ROLES else Scope.of(slugs)
    return CurrentUser(
        user_id=user.user_id, email=user.email, role=role, practice_slugs=slugs, scope=scope
    )


def require_role(user: CurrentUser, roles: Iterable[Role]) -> None:
    """Refuse unless the user's role is one of `roles`."""
    if user.role not in frozenset(roles):
        raise NotAuthorised("your role may not do this")


def require_practice(user: CurrentUser, practice_slug: str) -> None:
    """Refuse unless the user's scope includes `practice_slug`."""
    if not user.scope.allows(practice_slug):
        raise NotAuthorised("you do not have access to that practice")

"""Who may see what: a user's scope and role checks, always read from the store (SECURITY 5-7)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, func, select

from console.models.identity import Role, User, UserPractice
from console.platform.errors import NotAuthorised, UserError
from warehouse.scope import Scope

# Roles whose scope is the whole agency; everyone else sees only assigned practices.
AGENCY_WIDE_ROLES = frozenset({Role.manager, Role.admin})
# Roles that may manage users, practices and report links.
ADMIN_ROLES = frozenset({Role.manager, Role.admin})
# Roles that work the queue (claim, call, log); a client owner only reads their practices.
WORKER_ROLES = frozenset({Role.coordinator, Role.manager, Role.admin})


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

    @property
    def work_scope(self) -> Scope:
        """The practices whose tasks the user may work: `scope` for the worker roles, none
        for a client owner (who may *read* their practices, never work their queue)."""
        return self.scope if self.role in WORKER_ROLES else Scope()

    @property
    def sees_escalated(self) -> bool:
        """Whether escalated tasks (a manager's work) are offered to this user."""
        return self.role in AGENCY_WIDE_ROLES


def actor_ref(user_id: int | None) -> str:
    """The audit actor reference of a user id."""
    return f"user:{user_id}"


def practices_of(*, session: Session, user_id: int) -> frozenset[str]:
    """The practices assigned to a user."""
    rows = session.exec(select(UserPractice.practice_slug).where(UserPractice.user_id == user_id))
    return frozenset(rows.all())


def current_user(*, session: Session, user_id: int) -> CurrentUser | None:
    """The active user `user_id` with role and practices as stored right now, else None.

    The one place a user's scope is built: pages (per rerun, from the session), the CLI
    (`acting_as`), the report API and the simulator all act through what this returns.
    """
    return _current(session, session.get(User, user_id))


def acting_as(*, session: Session, email: str) -> CurrentUser:
    """The active user with this email (any case), as `current_user` builds them: the CLI's
    `--as EMAIL`. One email lookup; UserError when there is no such active user."""
    user = session.exec(
        select(User).where(func.lower(User.email) == email.strip().lower())
    ).first()
    acting = _current(session, user)
    if acting is None:
        raise UserError(f"no active user {email}")
    return acting


def _current(session: Session, user: User | None) -> CurrentUser | None:
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

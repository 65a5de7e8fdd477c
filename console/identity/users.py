"""User management: add, change role or practices, deactivate; every change audited."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, delete, select

from console.identity import audit, passwords
from console.identity.access import actor_ref, practices_of
from console.identity.audit import Action, Outcome
from console.identity.auth import end_sessions_of, normalise_email
from console.models.identity import Role, User, UserPractice
from console.models.work import Task, TaskStatus
from console.platform.errors import UserError
from loopdesk_core.clock import as_utc

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class UnknownUser(UserError):
    """No user with that id or email."""


def parse_role(value: str) -> Role:
    """The Role named `value`, or a one-line error listing the valid ones."""
    try:
        return Role(value.strip().lower())
    except ValueError:
        valid = ", ".join(role.value for role in Role)
        raise UserError(f"unknown role {value!r}; use one of: {valid}") from None


def _clean_slugs(practice_slugs: Iterable[str]) -> list[str]:
    """Distinct, validated practice slugs in a stable order."""
    slugs = sorted({slug.strip() for slug in practice_slugs})
    bad = [slug for slug in slugs if not _SLUG.match(slug)]
    if bad:
        raise UserError(f"not a practice slug: {bad[0]!r}")
    return slugs


def get_user(*, session: Session, email: str) -> User:
    """The user with this email, or a one-line error."""
    user = session.exec(select(User).where(User.email == normalise_email(email))).first()
    if user is None:
        raise UnknownUser("no user with that email")
    return user


def add_user(
    *,
    session: Session,
    email: str,
    role: Role | str,
    password: str,
    practice_slugs: Iterable[str] = (),
    actor: str,
    now: datetime,
) -> User:
    """Create an active user with a hashed password and assigned practices."""
    address = normalise_email(email)
    if not _EMAIL.match(address) or len(address) > 320:
        raise UserError("not an email address")
    parsed_role = parse_role(str(role))
    passwords.check_policy(password)
    slugs = _clean_slugs(practice_slugs)
    if session.exec(select(User.user_id).where(User.email == address)).first() is not None:
        raise UserError("a user with that email already exists")
    user = User(
        email=address,
        role=parsed_role.value,
        password_hash=passwords.hash_password(password),
        active=True,
        created_at=as_utc(now),
    )
    session.add(user)
    session.flush()
    assert user.user_id is not None
    for slug in slugs:
        session.add(UserPractice(user_id=user.user_id, practice_slug=slug))
    audit.record(
        session=session, actor=actor, action=Action.user_created, practice_slug=None,
        object_ref=actor_ref(user.user_id), outcome=Outcome.success, now=now,
    )
    for slug in slugs:
        audit.record(
            session=session, actor=actor, action=Action.practice_change, practice_slug=slug,
            object_ref=actor_ref(user.user_id), outcome="granted", now=now,
        )
    session.commit()
    session.refresh(user)
    return user


def _stored(session: Session, user_id: int) -> User:
    """The stored user, or a one-line error."""
    user = session.get(User, user_id)
    if user is None:
        raise UnknownUser(f"no user {user_id}")
    return user


def set_role(
    *, session: Session, user_id: int, role: Role | str, actor: str, now: datetime
) -> User:
    """Change a user's role; effective on their next request."""
    user = _stored(session, user_id)
    user.role = parse_role(str(role)).value
    session.add(user)
    audit.record(
        session=session, actor=actor, action=Action.role_change, practice_slug=None,
        object_ref=actor_ref(user_id), outcome=user.role, now=now,
    )
    session.commit()
    session.refresh(user)
    return user


def set_practices(
    *, session: Session, user_id: int, practice_slugs: Iterable[str], actor: str, now: datetime
) -> frozenset[str]:
    """Replace a user's practices; removals take effect on their next request."""
    _stored(session, user_id)
    wanted = set(_clean_slugs(practice_slugs))
    current = set(practices_of(session=session, user_id=user_id))
    session.exec(delete(UserPractice).where(col(UserPractice.user_id) == user_id))
    for slug in sorted(wanted):
        session.add(UserPractice(user_id=user_id, practice_slug=slug))
    changes = [(slug, "granted") for slug in sorted(wanted - current)]
    changes += [(slug, "revoked") for slug in sorted(current - wanted)]
    for slug, outcome in changes:
        audit.record(
            session=session, actor=actor, action=Action.practice_change, practice_slug=slug,
            object_ref=actor_ref(user_id), outcome=outcome, now=now,
        )
    session.commit()
    return frozenset(wanted)


def deactivate_user(*, session: Session, user_id: int, actor: str, now: datetime) -> None:
    """Switch a user off: no new logins, open sessions stop resolving at once, and the tasks
    they hold go back to the queue at once (their lease would otherwise keep them)."""
    user = _stored(session, user_id)
    user.active = False
    session.add(user)
    end_sessions_of(session=session, user_id=user_id, now=now)
    session.execute(
        update(Task)
        .execution_options(synchronize_session=False)
        .where(col(Task.claimed_by) == user_id)
        .where(col(Task.status) == TaskStatus.claimed)
        .values(status=TaskStatus.open, claimed_by=None, lease_expires_at=None)
    )
    audit.record(
        session=session, actor=actor, action=Action.user_deactivated, practice_slug=None,
        object_ref=actor_ref(user_id), outcome=Outcome.success, now=now,
    )
    session.commit()

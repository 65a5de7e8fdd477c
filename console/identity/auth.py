"""Login with rate limiting, and server-side sessions re-read on every request (SECURITY 4-5)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from console.identity import audit, passwords
from console.identity.access import CurrentUser, actor_ref, current_user
from console.identity.audit import Action, Outcome
from console.identity.tokens import TokenKind, Unauthorised, decode_token, issue_token, new_token_id
from console.models.identity import LoginAttempt, User, UserSession
from console.platform.db import begin_write
from console.platform.errors import NotAuthorised
from loopdesk_core.clock import as_utc
from loopdesk_core.settings import get_settings

MAX_FAILURES_PER_EMAIL = 5
# A whole office may share one address, so the per-client limit is looser than per account.
MAX_FAILURES_PER_CLIENT = 20
LOCKOUT_WINDOW = timedelta(minutes=15)
# How stale a session's last-seen time may get before a rerun writes it again.
LAST_SEEN_RESOLUTION = timedelta(seconds=60)
ANONYMOUS = "anonymous"


class LoginFailed(NotAuthorised):
    """Wrong email or password (deliberately not saying which)."""

    def __init__(self) -> None:
        super().__init__("wrong email or password")


class LoginLocked(NotAuthorised):
    """Too many recent failures for this account or this client."""

    def __init__(self) -> None:
        minutes = int(LOCKOUT_WINDOW.total_seconds() // 60)
        super().__init__(f"too many failed logins; try again in {minutes} minutes")


def normalise_email(email: str) -> str:
    """The form emails are stored and looked up in."""
    return email.strip().lower()


def _keyed(value: str) -> str:
    """A keyed hash, so the attempts table holds no email or address in clear."""
    return hmac.new(get_settings().signing_key(), value.encode(), hashlib.sha256).hexdigest()


def _recent_failures(session: Session, *, column: str, key: str, since: datetime) -> int:
    """Failed attempts for a key since `since`, counting only those after its last success."""
    key_column = col(getattr(LoginAttempt, column))
    last_success = session.exec(
        select(func.max(LoginAttempt.attempted_at)).where(
            key_column == key, col(LoginAttempt.succeeded).is_(True)
        )
    ).one()
    start = max(since, as_utc(last_success)) if last_success is not None else since
    failures = session.exec(
        select(func.count()).select_from(LoginAttempt).where(
            key_column == key,
            col(LoginAttempt.succeeded).is_(False),
            col(LoginAttempt.attempted_at) > start,
        )
    ).one()
    return int(failures)


def is_locked(*, session: Session, email: str, client_key: str, now: datetime) -> bool:
    """Whether a login for this email or from this client is currently refused."""
    since = now - LOCKOUT_WINDOW
    email_key = _keyed(normalise_email(email))
    client = _keyed(client_key)
    by_email = _recent_failures(session, column="email_key", key=email_key, since=since)
    if by_email >= MAX_FAILURES_PER_EMAIL:
        return True
    # A success from one client must not reset the counter for a client guessing other accounts.
    since_client = session.exec(
        select(func.count()).select_from(LoginAttempt).where(
            LoginAttempt.client_key == client,
            col(LoginAttempt.succeeded).is_(False),
            col(LoginAttempt.attempted_at) > since,
        )
    ).one()
    return int(since_client) >= MAX_FAILURES_PER_CLIENT


def _note_attempt(
    session: Session, *, email: str, client_key: str, succeeded: bool, now: datetime
) -> None:
    """Store one attempt for the rate limiter."""
    session.add(
        LoginAttempt(
            email_key=_keyed(normalise_email(email)),
            client_key=_keyed(client_key),
            succeeded=succeeded,
            attempted_at=as_utc(now),
        )
    )


def authenticate(
    *, session: Session, email: str, password: str, client_key: str, now: datetime
) -> User:
    """The user whose email and password these are; audited, rate-limited, equal work if unknown."""
    if is_locked(session=session, email=email, client_key=client_key, now=now):
        begin_write(session)
        audit.record(
            session=session, actor=ANONYMOUS, action=Action.login, practice_slug=None,
            object_ref=None, outcome=Outcome.locked, now=now,
        )
        session.commit()
        raise LoginLocked()
    user = session.exec(select(User).where(User.email == normalise_email(email))).first()
    if user is None:
        # Same argon2 work as a real check, so response time does not reveal who has an account.
        matched = passwords.verify_dummy(password)
    else:
        matched = passwords.verify_password(user.password_hash, password) and user.active
    # Writes start with the writer lock held (SQLite cannot upgrade a stale read transaction);
    # taken after the slow password check so logins do not queue behind argon2.
    begin_write(session)
    _note_attempt(session, email=email, client_key=client_key, succeeded=matched, now=now)
    if not matched or user is None:
        audit.record(
            session=session,
            actor=actor_ref(user.user_id) if user is not None else ANONYMOUS,
            action=Action.login, practice_slug=None, object_ref=None,
            outcome=Outcome.failure, now=now,
        )
        session.commit()
        raise LoginFailed()
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
        session.add(user)
    audit.record(
        session=session, actor=actor_ref(user.user_id), action=Action.login, practice_slug=None,
        object_ref=None, outcome=Outcome.success, now=now,
    )
    session.commit()
    session.refresh(user)
    return user


def start_session(*, session: Session, user: User, now: datetime) -> str:
    """A new server-side session for `user` and the signed token that names it."""
    if user.user_id is None:
        raise ValueError("the user must be stored before a session starts")
    settings = get_settings()
    absolute = timedelta(hours=settings.session_absolute_hours)
    session_id = new_token_id()
    # The writer lock first: the caller's session may hold a read transaction (it refreshed
    # the user) that another login's commit overtook, which SQLite cannot upgrade.
    begin_write(session)
    session.add(
        UserSession(
            session_id=session_id,
            user_id=user.user_id,
            created_at=as_utc(now),
            last_seen_at=as_utc(now),
            expires_at=as_utc(now + absolute),
        )
    )
    session.commit()
    return issue_token(
        kind=TokenKind.session, subject=str(user.user_id), now=now, lifetime=absolute,
        jti=session_id,
    )


def _live_session(session: Session, *, token: str, now: datetime,
                  fresh: bool = False) -> UserSession | None:
    """The stored session a token names, if the token and the session are both still valid."""
    try:
        claims = decode_token(token, kind=TokenKind.session, now=now)
    except Unauthorised:
        return None
    row = session.get(UserSession, str(claims["jti"]), populate_existing=fresh)
    if row is None or row.ended_at is not None or str(row.user_id) != claims["sub"]:
        return None
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    if now - as_utc(row.last_seen_at) > idle or now >= as_utc(row.expires_at):
        return None
    return row


def resolve_session(*, session: Session, token: str, now: datetime) -> CurrentUser | None:
    """The user behind a session token, re-read from the store, or None; touches last-seen.

    Every rerun resolves the session, so the last-seen write (the idle clock) is skipped while
    it is under LAST_SEEN_RESOLUTION old: a click then costs a read, not a turn at SQLite's
    single writer. The session, the account and its access are still read on every call.
    """
    row = _live_session(session, token=token, now=now)
    if row is None:
        session.rollback()
        return None
    user = current_user(session=session, user_id=row.user_id)
    if user is not None and now - as_utc(row.last_seen_at) < LAST_SEEN_RESOLUTION:
        session.rollback()  # end the read transaction; nothing to write
        return user
    # A write: hold the writer lock from the start, because on SQLite a read transaction that
    # another rerun's commit overtook cannot be upgraded to a write; read the row again in it.
    begin_write(session)
    row = _live_session(session, token=token, now=now, fresh=True)
    if row is None:
        session.rollback()
        return None
    user = current_user(session=session, user_id=row.user_id)
    if user is None:
        # Deactivated since login: end the session so it cannot come back.
        row.ended_at = as_utc(now)
    else:
        row.last_seen_at = as_utc(max(now, as_utc(row.last_seen_at)))
    session.add(row)
    session.commit()
    return user


def end_session(*, session: Session, token: str, now: datetime) -> None:
    """Log out: the session can no longer be resolved (audited)."""
    begin_write(session)
    row = _live_session(session, token=token, now=now)
    if row is None:
        return
    row.ended_at = as_utc(now)
    session.add(row)
    audit.record(
        session=session, actor=actor_ref(row.user_id), action=Action.logout, practice_slug=None,
        object_ref=None, outcome=Outcome.success, now=now,
    )
    session.commit()


def end_sessions_of(*, session: Session, user_id: int, now: datetime) -> int:
    """End every open session of a user (after deactivation or a password change)."""
    rows = session.exec(
        select(UserSession).where(
            UserSession.user_id == user_id, col(UserSession.ended_at).is_(None)
        )
    ).all()
    for row in rows:
        row.ended_at = as_utc(now)
        session.add(row)
    return len(rows)

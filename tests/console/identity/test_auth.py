"""Login, rate limiting and server-side sessions (SECURITY 4-5)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from console.identity import auth, passwords
from console.identity.access import actor_ref
from console.identity.auth import (
    LOCKOUT_WINDOW,
    MAX_FAILURES_PER_CLIENT,
    MAX_FAILURES_PER_EMAIL,
    LoginFailed,
    LoginLocked,
    authenticate,
    end_session,
    resolve_session,
    start_session,
)
from console.identity.tokens import TokenKind, issue_token
from console.identity.users import deactivate_user, set_practices, set_role
from console.models.identity import AuditEvent, LoginAttempt, Role, User, UserPractice
from tests.console.access_helpers import NOW, PASSWORD, cheap_argon2, make_user, store

__all__ = ["cheap_argon2", "store"]


def _login(session: Session, email: str, password: str, client: str = "10.0.0.1") -> User:
    return authenticate(
        session=session, email=email, password=password, client_key=client, now=NOW
    )


def test_argon2_hash_verifies_and_is_salted() -> None:
    first, second = passwords.hash_password("s3cret-pass!"), passwords.hash_password("s3cret-pass!")
    assert first.startswith("$argon2id$")
    assert first != second
    assert passwords.verify_password(first, "s3cret-pass!")
    assert not passwords.verify_password(first, "s3cret-pass?")
    assert not passwords.verify_password("not-a-hash", "s3cret-pass!")


def test_login_succeeds_case_insensitively_and_is_audited(store: Session) -> None:
    user = make_user(store, "ana@agency.test")
    assert _login(store, " Ana@Agency.TEST ", PASSWORD).user_id == user.user_id
    event = store.exec(select(AuditEvent)).one()
    expected = ("login", "success", actor_ref(user.user_id))
    assert (event.action, event.outcome, event.actor) == expected


def test_wrong_password_fails_without_saying_why(store: Session) -> None:
    make_user(store, "ana@agency.test")
    with pytest.raises(LoginFailed, match="wrong email or password"):
        _login(store, "ana@agency.test", "nope-nope-nope")
    event = store.exec(select(AuditEvent)).one()
    assert event.outcome == "failure"
    assert "ana" not in (event.actor + str(event.object_ref))


def test_unknown_user_does_the_same_argon2_work(
    store: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_dummy = passwords.verify_dummy

    def spy(password: str) -> bool:
        calls.append("dummy")
        return real_dummy(password)

    monkeypatch.setattr(passwords, "verify_dummy", spy)
    with pytest.raises(LoginFailed, match="wrong email or password"):
        _login(store, "ghost@agency.test", PASSWORD)
    assert calls == ["dummy"]
    assert store.exec(select(AuditEvent)).one().actor == "anonymous"


def test_inactive_user_cannot_log_in(store: Session) -> None:
    make_user(store, "gone@agency.test", active=False)
    with pytest.raises(LoginFailed):
        _login(store, "gone@agency.test", PASSWORD)


def test_attempts_table_holds_no_email_in_clear(store: Session) -> None:
    make_user(store, "ana@agency.test")
    with pytest.raises(LoginFailed):
        _login(store, "ana@agency.test", "bad-password-1")
    attempt = store.exec(select(LoginAttempt)).one()
    assert "ana" not in attempt.email_key and "10.0.0.1" not in attempt.client_key


def test_account_locks_after_five_failures_even_with_right_password(store: Session) -> None:
    make_user(store, "ana@agency.test")
    for attempt in range(MAX_FAILURES_PER_EMAIL):
        with pytest.raises(LoginFailed):
            _login(store, "ana@agency.test", f"wrong-password-{attempt}", client=f"c{attempt}")
    with pytest.raises(LoginLocked, match="too many failed logins; try again in 15 minutes"):
        _login(store, "ana@agency.test", PASSWORD, client="fresh-client")
    assert store.exec(select(AuditEvent).where(AuditEvent.outcome == "locked")).one()


def test_lock_lifts_after_the_window(store: Session) -> None:
    make_user(store, "ana@agency.test")
    for attempt in range(MAX_FAILURES_PER_EMAIL):
        with pytest.raises(LoginFailed):
            _login(store, "ana@agency.test", f"wrong-password-{attempt}")
    later = NOW + LOCKOUT_WINDOW + timedelta(seconds=1)
    user = authenticate(
        session=store, email="ana@agency.test", password=PASSWORD, client_key="x", now=later
    )
    assert user.email == "ana@agency.test"


def test_four_failures_then_success_resets_the_account_counter(store: Session) -> None:
    make_user(store, "ana@agency.test")
    for attempt in range(MAX_FAILURES_PER_EMAIL - 1):
        with pytest.raises(LoginFailed):
            _login(store, "ana@agency.test", f"wrong-password-{attempt}")
    _login(store, "ana@agency.test", PASSWORD)
    with pytest.raises(LoginFailed):
        _login(store, "ana@agency.test", "wrong-again-xx")
    _login(store, "ana@agency.test", PASSWORD)


def test_one_client_guessing_many_accounts_is_locked(store: Session) -> None:
    for attempt in range(MAX_FAILURES_PER_CLIENT):
        with pytest.raises(LoginFailed):
            _login(store, f"user{attempt}@agency.test", "whatever-pass", client="evil")
    make_user(store, "ana@agency.test")
    with pytest.raises(LoginLocked):
        _login(store, "ana@agency.test", PASSWORD, client="evil")
    assert _login(store, "ana@agency.test", PASSWORD, client="office")


def test_session_resolves_to_the_stored_identity(store: Session) -> None:
    user = make_user(store, "ana@agency.test", practices=("alpha", "beta"))
    token = start_session(session=store, user=user, now=NOW)
    current = resolve_session(session=store, token=token, now=NOW + timedelta(minutes=1))
    assert current is not None
    assert current.user_id == user.user_id and current.role is Role.coordinator
    assert current.practice_slugs == frozenset({"alpha", "beta"})
    assert current.scope.allows("alpha") and not current.scope.allows("gamma")


def test_idle_timeout_and_activity_extends_it(store: Session) -> None:
    user = make_user(store, "ana@agency.test")
    token = start_session(session=store, user=user, now=NOW)
    step = timedelta(minutes=29)
    assert resolve_session(session=store, token=token, now=NOW + step) is not None
    assert resolve_session(session=store, token=token, now=NOW + 2 * step) is not None
    idle_until = NOW + 2 * step + timedelta(minutes=31)
    assert resolve_session(session=store, token=token, now=idle_until) is None


def test_idle_minutes_come_from_settings(
    store: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOPDESK_SESSION_IDLE_MINUTES", "5")
    token = start_session(session=store, user=make_user(store, "ana@agency.test"), now=NOW)
    assert resolve_session(session=store, token=token, now=NOW + timedelta(minutes=6)) is None


def test_absolute_limit_ends_an_active_session(store: Session) -> None:
    token = start_session(session=store, user=make_user(store, "ana@agency.test"), now=NOW)
    moment = NOW
    for _ in range(12 * 3 - 1):  # active every 20 minutes for 11 h 40 min
        moment += timedelta(minutes=20)
        assert resolve_session(session=store, token=token, now=moment) is not None
    assert resolve_session(session=store, token=token, now=NOW + timedelta(hours=12)) is None


def test_logout_ends_the_session(store: Session) -> None:
    token = start_session(session=store, user=make_user(store, "ana@agency.test"), now=NOW)
    end_session(session=store, token=token, now=NOW)
    assert resolve_session(session=store, token=token, now=NOW) is None


def test_access_removal_takes_effect_on_next_resolve(store: Session) -> None:
    user = make_user(store, "ana@agency.test", practices=("alpha", "beta"))
    manager = make_user(store, "boss@agency.test", role="manager")
    assert user.user_id is not None and manager.user_id is not None
    token = start_session(session=store, user=user, now=NOW)
    actor = actor_ref(manager.user_id)

    set_practices(
        session=store, user_id=user.user_id, practice_slugs=["alpha"], actor=actor, now=NOW
    )
    current = resolve_session(session=store, token=token, now=NOW)
    assert current is not None and current.practice_slugs == frozenset({"alpha"})
    assert not current.scope.allows("beta")

    set_role(session=store, user_id=user.user_id, role="client_owner", actor=actor, now=NOW)
    current = resolve_session(session=store, token=token, now=NOW)
    assert current is not None and current.role is Role.client_owner

    deactivate_user(session=store, user_id=user.user_id, actor=actor, now=NOW)
    assert resolve_session(session=store, token=token, now=NOW) is None


def test_practice_rows_deleted_directly_also_take_effect(store: Session) -> None:
    user = make_user(store, "ana@agency.test", practices=("alpha",))
    token = start_session(session=store, user=user, now=NOW)
    store.delete(store.exec(select(UserPractice)).one())
    store.commit()
    current = resolve_session(session=store, token=token, now=NOW)
    assert current is not None and current.practice_slugs == frozenset()
    assert not current.scope.allows("alpha")


def test_forged_session_tokens_do_not_resolve(store: Session) -> None:
    user = make_user(store, "ana@agency.test")
    token = start_session(session=store, user=user, now=NOW)
    # Right kind and subject but no stored session behind it.
    unstored = issue_token(
        kind=TokenKind.session, subject=str(user.user_id), now=NOW, lifetime=timedelta(hours=1)
    )
    # A report link is not a session, even with a stored session's id.
    jti = auth.decode_token(token, kind=TokenKind.session, now=NOW)["jti"]
    report = issue_token(
        kind=TokenKind.report, subject=str(user.user_id), now=NOW, lifetime=timedelta(hours=1),
        jti=jti,
    )
    # A stored session id presented for a different user.
    other = make_user(store, "eve@agency.test", role="admin")
    swapped = issue_token(
        kind=TokenKind.session, subject=str(other.user_id), now=NOW,
        lifetime=timedelta(hours=1), jti=jti,
    )
    for forged in (unstored, report, swapped, token + "x", "", "not.a.token"):
        assert resolve_session(session=store, token=forged, now=NOW) is None
    assert resolve_session(session=store, token=token, now=NOW) is not None


def test_production_hasher_uses_rfc9106_parameters() -> None:
    parameters = passwords._HASHER.hash("s3cret-pass!").split("$")[3]
    assert parameters == "m=65536,t=3,p=4"


def test_dummy_hash_has_the_live_parameters(cheap_argon2: None) -> None:
    """The unknown-user path verifies against a hash as costly as a real user's."""
    live = passwords.hash_password("s3cret-pass!").split("$")[3]
    assert passwords._dummy_hash().split("$")[3] == live
    assert passwords.verify_dummy(PASSWORD) is False


def test_login_paths_log_no_email_or_password(
    store: Session, caplog: pytest.LogCaptureFixture
) -> None:
    make_user(store, "ana@agency.test")
    with caplog.at_level("DEBUG"):
        _login(store, "ana@agency.test", PASSWORD)
        for email in ("ana@agency.test", "ghost@agency.test"):
            with pytest.raises(LoginFailed):
                _login(store, email, "secret-guess-123")
    assert "agency.test" not in caplog.text
    assert "secret-guess-123" not in caplog.text and PASSWORD not in caplog.text

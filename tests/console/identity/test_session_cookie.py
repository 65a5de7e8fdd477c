"""The session cookie routes: a handoff code becomes an HttpOnly/Secure/Strict cookie; logout
ends the session behind it and clears it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlmodel import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from console.identity.auth import resolve_session, start_session
from console.identity.session_cookie import COOKIE_NAME, cookie_routes, handoff_code, safe_for_page
from tests.console.access_helpers import NOW, cheap_argon2, make_user, store

__all__ = ["cheap_argon2", "store"]
ORIGIN = {"origin": "http://testserver"}


def _client(session: Session, at: list) -> TestClient:  # type: ignore[type-arg]
    @contextmanager
    def sessions() -> Iterator[Session]:
        yield session

    return TestClient(Starlette(routes=cookie_routes(sessions=sessions, clock=lambda: at[0])))


def test_a_handoff_code_sets_a_strict_httponly_secure_cookie(store: Session) -> None:
    user = make_user(store, "ana@agency.test")
    token = start_session(session=store, user=user, now=NOW)
    code = handoff_code(session_token=token, now=NOW)
    assert safe_for_page(code) and code != token
    response = _client(store, [NOW]).post("/auth/session", json={"code": code}, headers=ORIGIN)
    assert response.status_code == 204
    header = response.headers["set-cookie"]
    assert header.startswith(f"{COOKIE_NAME}=")
    lowered = header.lower()
    assert "httponly" in lowered and "secure" in lowered and "samesite=strict" in lowered
    assert "path=/" in lowered and "max-age=" in lowered
    assert response.headers["cache-control"] == "no-store"
    cookie = header.split(";")[0].split("=", 1)[1]
    # The cookie names the same server-side session, which still decides who this is.
    resolved = resolve_session(session=store, token=cookie, now=NOW + timedelta(minutes=1))
    assert resolved is not None and resolved.email == "ana@agency.test"


def test_bad_stale_or_wrong_kind_codes_get_no_cookie(store: Session) -> None:
    user = make_user(store, "ana@agency.test")
    token = start_session(session=store, user=user, now=NOW)
    code = handoff_code(session_token=token, now=NOW)
    later = [NOW + timedelta(minutes=5)]
    for body, at in (({"code": code}, later), ({"code": token}, [NOW]),
                     ({"code": code[:-3] + "abc"}, [NOW]), ({}, [NOW])):
        response = _client(store, at).post("/auth/session", json=body, headers=ORIGIN)
        assert response.status_code == 401 and "set-cookie" not in response.headers


def test_another_origin_cannot_set_the_cookie(store: Session) -> None:
    user = make_user(store, "ana@agency.test")
    code = handoff_code(session_token=start_session(session=store, user=user, now=NOW), now=NOW)
    response = _client(store, [NOW]).post("/auth/session", json={"code": code},
                                          headers={"origin": "https://evil.example"})
    assert response.status_code == 403 and "set-cookie" not in response.headers


def test_a_code_for_an_ended_session_gets_no_cookie(store: Session) -> None:
    from console.identity.auth import end_session

    user = make_user(store, "ana@agency.test")
    token = start_session(session=store, user=user, now=NOW)
    code = handoff_code(session_token=token, now=NOW)
    end_session(session=store, token=token, now=NOW)
    response = _client(store, [NOW]).post("/auth/session", json={"code": code}, headers=ORIGIN)
    assert response.status_code == 401


def test_logout_ends_the_session_and_clears_the_cookie(store: Session) -> None:
    user = make_user(store, "ana@agency.test")
    token = start_session(session=store, user=user, now=NOW)
    client = _client(store, [NOW])
    client.cookies.set(COOKIE_NAME, token)
    response = client.post("/auth/logout", headers=ORIGIN)
    assert response.status_code == 204
    header = response.headers["set-cookie"].lower()
    assert header.startswith(f"{COOKIE_NAME}=") and "max-age=0" in header
    assert resolve_session(session=store, token=token, now=NOW) is None

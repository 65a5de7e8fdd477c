"""The HTTP routes: /api/health and /api/v1/report, where every bad token is a 401."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwt
from sqlalchemy import delete
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from console.identity.tokens import AUDIENCES, ISSUER, TokenKind, issue_token
from console.models.identity import AuditEvent
from console.models.outreach import ReferralFormHit
from console.reporting.report_links import create_report_link, revoke_report_link
from console.reporting.reports import ReportUnavailable
from console.web.http import HttpServices, build_routes
from tests.conftest import TEST_SECRET
from tests.console.access_helpers import NOW, cheap_argon2, store
from warehouse.scope import Scope

__all__ = ["cheap_argon2", "store"]


class StubProvider:
    """Records what it was asked for and returns a tiny report."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Scope]] = []

    def __call__(self, *, practice_slug: str, scope: Scope, now: datetime) -> dict[str, Any]:
        self.calls.append((practice_slug, scope))
        return {"practice_slug": practice_slug, "referral_rate": 0.31}


@pytest.fixture
def provider() -> StubProvider:
    return StubProvider()


@pytest.fixture
def client(store: Session, provider: StubProvider) -> Iterator[TestClient]:
    services = HttpServices(
        sessions=lambda: nullcontext(store),
        engine=lambda: store.get_bind(),  # type: ignore[arg-type,return-value]
        report_provider=provider,
        warehouse_probe=lambda: {"ok": True},
        now=lambda: NOW,
    )
    with TestClient(Starlette(routes=build_routes(services))) as test_client:
        yield test_client


def _link(store: Session, practice: str = "alpha", days: int = 30) -> tuple[str, str]:
    link = create_report_link(
        session=store, practice_slug=practice, days=days, actor="cli", now=NOW
    )
    return link.token, link.jti


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segments(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, body, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header))),
        json.loads(base64.urlsafe_b64decode(pad(body))),
    )


def _resign(claims: dict[str, Any], key: str | bytes = TEST_SECRET) -> str:
    return jwt.encode(claims, key, algorithm="HS256")


def test_valid_link_returns_that_practice_only(
    client: TestClient, store: Session, provider: StubProvider
) -> None:
    token, jti = _link(store, "alpha")
    _link(store, "beta")
    response = client.get("/api/v1/report", params={"token": token})
    assert response.status_code == 200
    assert response.json() == {"practice_slug": "alpha", "referral_rate": 0.31}
    assert response.headers["cache-control"] == "no-store"
    assert provider.calls == [("alpha", Scope.of(["alpha"]))]
    view = store.exec(select(AuditEvent).where(AuditEvent.action == "view_report")).one()
    expected = ("alpha", "success", f"report_link:{jti}")
    assert (view.practice_slug, view.outcome, view.actor) == expected


def test_bearer_header_works_too(client: TestClient, store: Session) -> None:
    token, _ = _link(store)
    response = client.get("/api/v1/report", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def _forgeries(store: Session) -> dict[str, str]:
    """One token per way of getting in without a valid, live link for the practice."""
    token, jti = _link(store, "alpha")
    header, claims = _segments(token)
    without = lambda name: {k: v for k, v in claims.items() if k != name}  # noqa: E731
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    head, body = _b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode())
    confused = hmac.new(public_pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    none_head = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    edited_body = _b64(json.dumps({**claims, "practice": "beta", "sub": "practice:beta"}).encode())
    revoked, revoked_jti = _link(store, "alpha")
    revoke_report_link(session=store, jti=revoked_jti, actor="cli", now=NOW)
    expired_claims = {**claims, "exp": int((NOW - timedelta(seconds=61)).timestamp())}
    session_token = issue_token(
        kind=TokenKind.session, subject="practice:alpha", now=NOW, lifetime=timedelta(hours=1),
        jti=jti, extra_claims={"practice": "alpha"},
    )
    referral = issue_token(
        kind=TokenKind.referral, subject="practice:alpha", now=NOW, lifetime=timedelta(hours=1),
        jti=jti, extra_claims={"practice": "alpha"},
    )
    unstored = issue_token(
        kind=TokenKind.report, subject="practice:alpha", now=NOW, lifetime=timedelta(days=1),
        extra_claims={"practice": "alpha"},
    )
    return {
        "alg none": f"{none_head}.{body}.",
        "wrong key": _resign(claims, key="some-other-secret-of-sufficient-length-42"),
        "hs/rs confusion": f"{head}.{body}.{_b64(confused)}",
        "rs256": jwt.encode(
            claims,
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode(),
            algorithm="RS256",
        ),
        "missing exp": _resign(without("exp")),
        "missing aud": _resign(without("aud")),
        "missing iat": _resign(without("iat")),
        "wrong audience": _resign({**claims, "aud": AUDIENCES[TokenKind.session]}),
        "wrong issuer": _resign({**claims, "iss": ISSUER + "x"}),
        "expired by 61 s": _resign(expired_claims),
        "session token": session_token,
        "referral token": referral,
        "not stored": unstored,
        "revoked": revoked,
        "A edited to B, old signature": f"{head}.{edited_body}.{token.split('.')[2]}",
        # Even a correctly signed claim for B cannot open the stored row of A's link.
        "A's jti claiming B, re-signed": _resign(
            {**claims, "practice": "beta", "sub": "practice:beta"}
        ),
        "garbage": "not-a-token",
        "truncated": token[:-5],
    }


def test_every_forgery_is_401(client: TestClient, store: Session, provider: StubProvider) -> None:
    forgeries = _forgeries(store)
    for name, token in forgeries.items():
        # Each forgery starts a fresh denial window (the limiter would answer 429 after 20).
        store.execute(delete(ReferralFormHit))
        store.commit()
        by_query = client.get("/api/v1/report", params={"token": token})
        by_header = client.get("/api/v1/report", headers={"Authorization": f"Bearer {token}"})
        for response in (by_query, by_header):
            assert response.status_code == 401, name
            assert response.json() == {"error": "unauthorised"}, name
    assert provider.calls == []
    denied = store.exec(select(AuditEvent).where(AuditEvent.outcome == "denied")).all()
    # Denials are audited in aggregate: one row per source per window, not one per request.
    assert len(denied) == len(forgeries)


def test_missing_token_is_401(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}):
        response = client.get("/api/v1/report", headers=headers)
        assert response.status_code == 401
        assert response.json() == {"error": "unauthorised"}


def test_link_just_inside_leeway_still_works_and_row_expiry_rules(
    store: Session, provider: StubProvider
) -> None:
    """The stored expiry is authoritative: a day-long link fails once its row expires."""
    token, _ = _link(store, "alpha", days=1)

    def at(moment: datetime) -> int:
        services = HttpServices(
            sessions=lambda: nullcontext(store),
            engine=lambda: store.get_bind(),  # type: ignore[arg-type,return-value]
            report_provider=provider,
            warehouse_probe=lambda: {"ok": True},
            now=lambda: moment,
        )
        with TestClient(Starlette(routes=build_routes(services))) as test_client:
            return test_client.get("/api/v1/report", params={"token": token}).status_code

    assert at(NOW + timedelta(hours=23)) == 200
    assert at(NOW + timedelta(days=1, seconds=1)) == 401


def test_report_unavailable_is_503(store: Session) -> None:
    def failing(*, practice_slug: str, scope: Scope, now: datetime) -> dict[str, Any]:
        raise ReportUnavailable("no snapshot")

    services = HttpServices(
        sessions=lambda: nullcontext(store),
        engine=lambda: store.get_bind(),  # type: ignore[arg-type,return-value]
        report_provider=failing,
        warehouse_probe=lambda: {"ok": True},
        now=lambda: NOW,
    )
    token, _ = _link(store)
    with TestClient(Starlette(routes=build_routes(services))) as test_client:
        response = test_client.get("/api/v1/report", params={"token": token})
    assert response.status_code == 503
    assert response.json() == {"error": "report unavailable"}


def test_health_ok(client: TestClient) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "warehouse": {"ok": True},
        "operational_store": {"ok": True},
    }


def test_health_degraded_without_snapshot(store: Session, loopdesk_home: object) -> None:
    """The real warehouse probe reports a missing snapshot as degraded, not as an error."""
    from console.web.health import warehouse_status

    services = HttpServices(
        sessions=lambda: nullcontext(store),
        engine=lambda: store.get_bind(),  # type: ignore[arg-type,return-value]
        report_provider=StubProvider(),
        warehouse_probe=warehouse_status,
        now=lambda: NOW,
    )
    with TestClient(Starlette(routes=build_routes(services))) as test_client:
        body = test_client.get("/api/health").json()
    assert body["status"] == "degraded"
    assert body["warehouse"]["ok"] is False
    assert body["operational_store"] == {"ok": True}


def test_a_browser_gets_the_report_as_read_only_html(
    client: TestClient, store: Session
) -> None:
    from console.models.practice import PracticeSettings

    store.add(PracticeSettings(practice_slug="alpha", name="Alpha <b>Dental</b>",
                               specialty="dental", timezone="America/New_York"))
    store.commit()
    token, _ = _link(store)
    browser = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    page = client.get(f"/api/v1/report?token={token}", headers=browser)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert "Alpha &lt;b&gt;Dental&lt;/b&gt;" in page.text and "<b>Dental" not in page.text
    assert "31%" in page.text and "<script" not in page.text
    # Programs keep the JSON, at the same address.
    assert client.get(f"/api/v1/report?token={token}").json()["referral_rate"] == 0.31
    assert client.get(f"/api/v1/report?token={token}",
                      headers={"accept": "application/json"}).json()["referral_rate"] == 0.31
    assert client.get("/api/v1/report?token=bad", headers=browser).status_code == 401

"""SECURITY 3: a short secret stops the app before it listens; report links are revocable."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from console.reporting.report_links import create_report_link, revoke_report_link
from console.web.http import HttpServices, build_routes
from loopdesk_core.settings import InsecureSecretError
from tests.console.access_helpers import NOW, cheap_argon2, store
from warehouse.scope import Scope

__all__ = ["cheap_argon2", "store"]


def _report(*, practice_slug: str, scope: Scope, now: object) -> dict[str, Any]:
    return {"practice_slug": practice_slug}


@pytest.fixture
def client(store: Session) -> Iterator[TestClient]:
    services = HttpServices(
        sessions=lambda: nullcontext(store),
        engine=lambda: store.get_bind(),  # type: ignore[arg-type,return-value]
        report_provider=_report,
        warehouse_probe=lambda: {"ok": True},
        now=lambda: NOW,
    )
    with TestClient(Starlette(routes=build_routes(services))) as test_client:
        yield test_client


def test_a_working_link_stops_working_once_revoked(client: TestClient, store: Session) -> None:
    link = create_report_link(session=store, practice_slug="alpha", days=30, actor="cli",
                              now=NOW)
    other = create_report_link(session=store, practice_slug="alpha", days=30, actor="cli",
                               now=NOW)
    headers = {"Authorization": f"Bearer {link.token}"}
    assert client.get("/api/v1/report", headers=headers).status_code == 200
    revoke_report_link(session=store, jti=link.jti, actor="user:1", now=NOW)
    for request in (lambda: client.get("/api/v1/report", headers=headers),
                    lambda: client.get(f"/api/v1/report?token={link.token}")):
        response = request()
        assert response.status_code == 401
        assert response.json() == {"error": "unauthorised"}
    # Revoking one link leaves the practice's other links alone.
    assert client.get(f"/api/v1/report?token={other.token}").status_code == 200


def test_revocation_outlives_the_tokens_own_validity(client: TestClient, store: Session) -> None:
    """The stored row rules: a revoked link stays dead for its whole signed lifetime."""
    link = create_report_link(session=store, practice_slug="alpha", days=90, actor="cli",
                              now=NOW)
    revoke_report_link(session=store, jti=link.jti, actor="user:1", now=NOW)
    revoke_report_link(session=store, jti=link.jti, actor="user:1",
                       now=NOW + timedelta(days=1))  # twice is harmless
    assert client.get(f"/api/v1/report?token={link.token}").status_code == 401


def test_create_app_refuses_a_short_secret(
    loopdesk_home: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from console.web.app import create_app

    monkeypatch.setenv("LOOPDESK_SECRET_KEY", "x" * 31)
    with pytest.raises(InsecureSecretError):
        create_app()


def test_serve_exits_2_with_one_line_before_listening(
    loopdesk_home: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    from console.cli import main

    started: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: started.append(a))
    monkeypatch.setenv("LOOPDESK_SECRET_KEY", "short")
    monkeypatch.setattr(sys, "argv", ["loopdesk", "serve", "--port", "1"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert started == []

"""The HTTP routes served next to the Streamlit console: thin handlers over services."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from console.identity.tokens import Unauthorised
from console.platform.edge import client_key
from console.reporting.reports import (
    ReportProvider,
    ReportUnavailable,
    build_practice_report,
    denials_exceeded,
    report_for_token,
)
from console.web.health import check_health, warehouse_status
from loopdesk_core import clock

# Reports carry practice data: never cached, never leaked through a Referer header.
_PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


@dataclass(frozen=True)
class HttpServices:
    """What the routes depend on; injectable so tests use stub providers and stores."""

    sessions: Callable[[], AbstractContextManager[Session]]
    engine: Callable[[], Engine]
    report_provider: ReportProvider
    warehouse_probe: Callable[[], dict[str, Any]]
    now: Callable[[], datetime]


def default_services() -> HttpServices:
    """The real wiring: the configured store, the published snapshot, the one clock."""
    from console.platform.db import get_engine, session_scope

    return HttpServices(
        sessions=session_scope,
        engine=get_engine,
        report_provider=build_practice_report,
        warehouse_probe=warehouse_status,
        now=clock.now,
    )


def bearer_token(request: Request) -> str | None:
    """The token from `Authorization: Bearer …`, else from `?token=`."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    token = request.query_params.get("token")
    return token or None


def wants_html(request: Request) -> bool:
    """A browser opening the link (it asks for text/html first); programs get JSON."""
    accept = request.headers.get("accept", "").lower()
    first = accept.split(",", 1)[0].strip()
    return first.startswith(("text/html", "application/xhtml+xml"))


def _html_report(deps: HttpServices, payload: dict[str, Any]) -> HTMLResponse:
    """The report as a read-only page, with the practice by name."""
    from console.models.practice import PracticeSettings
    from console.reporting.report_html import CSP, render_report_html

    slug = str(payload.get("practice_slug", ""))
    with deps.sessions() as session:
        practice = session.get(PracticeSettings, slug)
    name = practice.name if practice is not None else "Your practice"
    headers = {**_PRIVATE_HEADERS, "Content-Security-Policy": CSP}
    return HTMLResponse(render_report_html(payload, practice_name=name), headers=headers)


def _unauthorised() -> JSONResponse:
    """The one answer for every bad or missing token."""
    headers = {**_PRIVATE_HEADERS, "WWW-Authenticate": "Bearer"}
    return JSONResponse({"error": "unauthorised"}, status_code=401, headers=headers)


def build_routes(services: HttpServices | None = None) -> list[BaseRoute]:
    """The `/api/...` routes, bound to `services` (default: the real ones, resolved lazily)."""

    def resolved() -> HttpServices:
        return services if services is not None else default_services()

    def health(request: Request) -> JSONResponse:
        deps = resolved()
        payload = check_health(engine_factory=deps.engine, warehouse_probe=deps.warehouse_probe)
        return JSONResponse(payload, headers={"Cache-Control": "no-store"})

    def report(request: Request) -> Response:
        token = bearer_token(request)
        deps = resolved()
        source = client_key(request, "report")
        now = deps.now()
        try:
            with deps.sessions() as session:
                if denials_exceeded(session=session, source=source, now=now):
                    return JSONResponse({"error": "too many requests"}, status_code=429,
                                        headers={**_PRIVATE_HEADERS, "Retry-After": "600"})
                if token is None:
                    return _unauthorised()
                payload = report_for_token(
                    session=session, token=token, provider=deps.report_provider, now=now,
                    source=source,
                )
        except Unauthorised:
            return _unauthorised()
        except ReportUnavailable:
            return JSONResponse(
                {"error": "report unavailable"}, status_code=503, headers=_PRIVATE_HEADERS
            )
        if wants_html(request):
            return _html_report(deps, payload)
        return JSONResponse(payload, headers=_PRIVATE_HEADERS)

    # Sync handlers: Starlette runs them in its thread pool, so blocking DB calls are fine.
    return [
        Route("/api/health", health, methods=["GET"]),
        Route("/api/v1/report", report, methods=["GET"]),
    ]

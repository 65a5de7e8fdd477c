"""The read-only JSON report of one practice, as served at /api/v1/report."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any, Protocol

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from console.identity import audit
from console.identity.audit import Action, Outcome
from console.identity.tokens import Unauthorised
from console.models.outreach import ReferralFormHit
from console.platform.db import begin_write
from console.platform.errors import NotAuthorised
from console.reporting.report_links import verify_report_link
from warehouse.scope import Scope

REPORT_VERSION = 1
# Denied report requests per source (an HMAC of its address) before it is refused with 429.
DENIAL_WINDOW = timedelta(minutes=10)
DENIAL_LIMIT = 20


class ReportProvider(Protocol):
    """Anything that builds the report of one practice within a scope (tests pass a stub)."""

    def __call__(self, *, practice_slug: str, scope: Scope, now: datetime) -> dict[str, Any]:
        """The report of `practice_slug` as a JSON-ready dict."""
        ...


class ReportUnavailable(RuntimeError):
    """No published warehouse snapshot to report from yet."""


def jsonable(value: Any) -> Any:
    """`value` with dataclasses, dates, decimals, enums and non-finite floats made JSON-safe."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def assemble_report(
    *, practice_slug: str, now: datetime, metrics: Any, forecast: Any
) -> dict[str, Any]:
    """The report envelope: which practice, when, the metrics and the forecast."""
    return {
        "report_version": REPORT_VERSION,
        "practice_slug": practice_slug,
        "generated_at": now.isoformat(),
        "metrics": jsonable(metrics),
        "forecast": jsonable(forecast),
    }


def build_practice_report(*, practice_slug: str, scope: Scope, now: datetime) -> dict[str, Any]:
    """The report of one practice from the current warehouse snapshot, within `scope`."""
    if not scope.allows(practice_slug):
        raise NotAuthorised("you do not have access to that practice")
    # Imported here: the warehouse read side is only needed when a real report is built.
    from warehouse.forecast import practice_forecast
    from warehouse.metrics import compute_metrics
    from warehouse.snapshot import open_snapshot

    try:
        conn = open_snapshot()
    except Exception as error:  # SnapshotMissing, or an unreadable file
        raise ReportUnavailable("no warehouse snapshot has been published yet") from error
    try:
        metrics = compute_metrics(
            conn, scope=scope, practice_slug=practice_slug, date_from=None, date_to=None
        )
        forecast = practice_forecast(conn, scope=scope, practice_slug=practice_slug, years=2)
    except LookupError as error:  # the practice has no rows in this snapshot yet
        raise ReportUnavailable("no warehouse data for this practice yet") from error
    finally:
        conn.close()
    return assemble_report(
        practice_slug=practice_slug, now=now, metrics=metrics, forecast=forecast
    )


def denials_exceeded(*, session: Session, source: str, now: datetime) -> bool:
    """Whether `source` (an HMAC of a client address) was denied DENIAL_LIMIT times lately."""
    recent = session.exec(
        select(func.count()).select_from(ReferralFormHit)
        .where(ReferralFormHit.client_key == f"denied:{source}")
        .where(col(ReferralFormHit.at) >= now - DENIAL_WINDOW)
    ).one()
    return int(recent) >= DENIAL_LIMIT


def _record_denial(*, session: Session, source: str | None, now: datetime) -> None:
    """Count a denied request; audit it only when it is the source's first in the window.

    Unauthenticated requests must not grow the six-year audit log (or hold the chain lock
    claims use) one row each: a source gets one `denied` row per DENIAL_WINDOW, and its
    further denials are counted in the short-lived hit table, then refused with 429.
    """
    begin_write(session)
    if source is None:
        first = True
    else:
        key = f"denied:{source}"
        session.execute(delete(ReferralFormHit)
                        .where(col(ReferralFormHit.at) < now - DENIAL_WINDOW))
        recent = session.exec(
            select(func.count()).select_from(ReferralFormHit)
            .where(ReferralFormHit.client_key == key)
            .where(col(ReferralFormHit.at) >= now - DENIAL_WINDOW)
        ).one()
        first = int(recent) == 0
        session.add(ReferralFormHit(client_key=key, at=now))
    if first:
        audit.record(
            session=session, actor="anonymous", action=Action.view_report, practice_slug=None,
            object_ref=f"client:{source[:12]}" if source else None, outcome=Outcome.denied,
            now=now,
        )
    session.commit()


def report_for_token(
    *, session: Session, token: str, provider: ReportProvider, now: datetime,
    source: str | None = None,
) -> dict[str, Any]:
    """The report a report-link token opens, audited; `Unauthorised` for any bad token.

    `source` (console.platform.edge.client_key) aggregates denials: one audit row per source per
    window instead of one per request.
    """
    try:
        link = verify_report_link(session=session, token=token, now=now)
    except Unauthorised:
        _record_denial(session=session, source=source, now=now)
        raise
    # The scope is exactly the practice the stored link names, never anything from the request.
    scope = Scope.of([link.practice_slug])
    report = provider(practice_slug=link.practice_slug, scope=scope, now=now)
    audit.record(
        session=session, actor=f"report_link:{link.jti}", action=Action.view_report,
        practice_slug=link.practice_slug, object_ref=f"report:{link.practice_slug}",
        outcome=Outcome.success, now=now,
    )
    session.commit()
    return report

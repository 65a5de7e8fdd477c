"""The read-only JSON report of one practice, as served at /api/v1/report."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Protocol

from sqlmodel import Session

from console import audit
from console.audit import Action, Outcome
from console.errors import NotAuthorised
from console.report_links import verify_report_link
from console.tokens import Unauthorised
from warehouse.scope import Scope

REPORT_VERSION = 1


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


def report_for_token(
    *, session: Session, token: str, provider: ReportProvider, now: datetime
) -> dict[str, Any]:
    """The report a report-link token opens, audited; `Unauthorised` for any bad token."""
    try:
        link = verify_report_link(session=session, token=token, now=now)
    except Unauthorised:
        audit.record(
            session=session, actor="anonymous", action=Action.view_report, practice_slug=None,
            object_ref=None, outcome=Outcome.denied, now=now,
        )
        session.commit()
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

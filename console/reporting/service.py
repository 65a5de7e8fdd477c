"""Rendering a practice-month's PDF for the CLI, the pages and the scheduled delivery."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from console.identity import audit
from console.identity.access import ADMIN_ROLES, CurrentUser, require_practice, require_role
from console.identity.audit import Action, Outcome
from console.models.identity import Role
from console.models.practice import PracticeSettings
from console.platform.errors import UserError
from console.reporting.monthly import Month, monthly_report
from console.reporting.pdf import render_pdf
from warehouse.scope import Scope

REPORT_ROLES = frozenset({*ADMIN_ROLES, Role.client_owner})


@dataclass(frozen=True)
class RenderedReport:
    """A practice-month's PDF with the figures it was made from."""

    pdf: bytes
    report: dict[str, Any]
    filename: str


def pdf_filename(practice_slug: str, month: Month) -> str:
    """`loopdesk-report-<practice>-<YYYY-MM>.pdf`."""
    return f"loopdesk-report-{practice_slug}-{month.key}.pdf"


def default_month(session: Session, practice_slug: str, now: datetime) -> Month:
    """The previous calendar month in the practice's time zone (UTC when it is unknown)."""
    practice = session.get(PracticeSettings, practice_slug)
    return Month.previous_in_zone(now, practice.timezone if practice else "UTC")


def render_month(*, session: Session, practice_slug: str, month: Month,
                 scope: Scope) -> RenderedReport:
    """The practice-month's report as a PDF, within `scope` (UserError for an unknown practice)."""
    from console.platform.snapshot import snapshot
    from warehouse.metrics import UnknownPractice

    practice = session.get(PracticeSettings, practice_slug)
    fee = practice.monthly_fee if practice is not None else None
    with snapshot() as conn:
        try:
            report = monthly_report(conn, scope=scope, practice_slug=practice_slug, month=month,
                                    monthly_fee=fee)
        except UnknownPractice as error:
            raise UserError(str(error)) from error
    return RenderedReport(pdf=render_pdf(report), report=report,
                          filename=pdf_filename(practice_slug, month))


def report_pdf_for_user(*, session: Session, user: CurrentUser, practice_slug: str,
                        month: Month, now: datetime) -> RenderedReport:
    """The PDF a manager or the practice's client owner downloads (audited as an export)."""
    require_role(user, REPORT_ROLES)
    require_practice(user, practice_slug)
    rendered = render_month(session=session, practice_slug=practice_slug, month=month,
                            scope=user.scope)
    audit.record(session=session, actor=user.actor, action=Action.export,
                 practice_slug=practice_slug,
                 object_ref=f"report_pdf:{practice_slug}:{month.key}",
                 outcome=Outcome.success, now=now)
    session.commit()
    return rendered


def report_months(*, session: Session, practice_slug: str, now: datetime,
                  count: int = 12) -> list[Month]:
    """The months a report can be chosen for, the default (previous month) first."""
    latest = default_month(session, practice_slug, now)
    return [latest.shift(-back) for back in range(count)]


def month_preview(*, session: Session, user: CurrentUser, practice_slug: str,
                  month: Month) -> dict[str, Any]:
    """What page 1 of the PDF says: the return line and the headline rows (for the pages)."""
    from console.platform.snapshot import snapshot
    from console.reporting.pdf import HEADLINES, change, headline_value, return_line
    from warehouse.metrics import UnknownPractice

    require_role(user, REPORT_ROLES)
    require_practice(user, practice_slug)
    practice = session.get(PracticeSettings, practice_slug)
    fee = practice.monthly_fee if practice is not None else None
    with snapshot() as conn:
        try:
            report = monthly_report(conn, scope=user.scope, practice_slug=practice_slug,
                                    month=month, monthly_fee=fee)
        except UnknownPractice as error:
            raise UserError(str(error)) from error
    now_block, before = report["metrics"], report["previous"]
    rows = [{"figure": label, report["month_label"]: headline_value(kind, read(now_block)),
             f"vs {report['previous_month_label']}": change(kind, read(now_block), read(before))}
            for label, read, kind, _ in HEADLINES]
    return {"month_label": report["month_label"], "has_data": report["has_data"],
            "return_line": return_line(report), "returns": report["returns"], "rows": rows}


def report_status(*, session: Session, user: CurrentUser) -> dict[str, dict[str, Any]]:
    """Per client in the manager's scope: recipients and when the last report went out (local)."""
    from zoneinfo import ZoneInfo

    from console.reporting.delivery import last_sent, recipients_for

    require_role(user, ADMIN_ROLES)
    sent = last_sent(session)
    status: dict[str, dict[str, Any]] = {}
    for practice in session.exec(select(PracticeSettings)).all():
        if not user.scope.allows(practice.practice_slug):
            continue
        when = sent.get(practice.practice_slug)
        try:
            zone = ZoneInfo(practice.timezone)
        except (KeyError, ValueError):
            zone = ZoneInfo("UTC")
        local = when.astimezone(zone) if when is not None else None
        status[practice.practice_slug] = {
            "recipients": recipients_for(session, practice),
            "last_sent": (f"{local:%b} {local.day}, {local:%Y %H:%M %Z}" if local is not None
                          else "never"),
        }
    return status

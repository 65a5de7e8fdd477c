"""Rendering a practice-month's PDF for the CLI, the pages and the scheduled delivery."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from console import audit
from console.access import ADMIN_ROLES, CurrentUser, require_practice, require_role
from console.audit import Action, Outcome
from console.errors import UserError
from console.models.identity import Role
from console.models.practice import PracticeSettings
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
    from console.views.data import snapshot
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

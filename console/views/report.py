"""The client owner's report: their own practice only, from the published snapshot."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl
from sqlmodel import Session

from console.identity import audit
from console.identity.access import CurrentUser, require_practice
from console.identity.audit import Action, Outcome
from console.models.practice import PracticeSettings
from console.platform.errors import NotAuthorised
from console.platform.snapshot import snapshot
from console.reporting.csv_export import export_csv
from console.views.data import rate_text

RATE_ROWS = (
    ("Ask rate", "ask_rate"),
    ("Reach rate", "reach_rate"),
    ("Willingness", "willingness_rate"),
    ("Referral rate", "referral_rate"),
    ("Lead contacted within SLA", "lead_contact_sla_rate"),
    ("Lead conversion", "lead_conversion_rate"),
    ("Loop closure within SLA", "loop_closure_rate"),
)


def report_practices(user: CurrentUser) -> list[str]:
    """The practices whose report the user may open (their own, from the server-side identity)."""
    if user.scope.agency_wide:
        raise NotAuthorised("the report page is for client owners")
    return sorted(user.practice_slugs)


def practice_report(*, session: Session, user: CurrentUser, practice_slug: str,
                    now: datetime) -> dict[str, Any]:
    """Metrics, funnel by month, before/after onboarding and forecast of one practice (audited)."""
    from console.reporting.reports import build_practice_report
    from warehouse.metrics import before_after_onboarding
    from warehouse.metrics_ops import funnel_by_month

    require_practice(user, practice_slug)
    report = build_practice_report(practice_slug=practice_slug, scope=user.scope, now=now)
    with snapshot() as conn:
        funnel = funnel_by_month(conn, scope=user.scope, practice_slug=practice_slug)
        halves = before_after_onboarding(conn, scope=user.scope, practice_slug=practice_slug)
    settings = session.get(PracticeSettings, practice_slug)
    audit.record(session=session, actor=user.actor, action=Action.view_report,
                 practice_slug=practice_slug, object_ref=f"report:{practice_slug}",
                 outcome=Outcome.success, now=now)
    session.commit()
    (metrics,) = report["metrics"]["practices"]
    return {
        "practice_slug": practice_slug,
        "name": metrics["name"],
        "period": report["metrics"]["period"],
        "metrics": metrics,
        "forecast": report["forecast"],
        "funnel": funnel,
        "before_after": halves,
        "share_blurb": settings.share_blurb if settings else "",
    }


def metrics_table(metrics: dict[str, Any]) -> list[dict[str, str]]:
    """The report's headline figures as label / value rows ("—" when undefined)."""
    from warehouse.metrics_block import rate_counts

    rows = []
    for label, key in RATE_ROWS:
        numerator, denominator = rate_counts(metrics, key)
        rows.append({"metric": label, "value": rate_text(metrics[key]),
                     "counts": f"{numerator:g} / {denominator:g}"})
    hours = metrics["hours_delivered"]
    rows.append({"metric": "Referred revenue", "value": f"${metrics['referred_revenue']:,.0f}",
                 "counts": f"{metrics['counts']['leads_converted_90d']} converted leads"})
    rows.append({"metric": "Hours delivered per week",
                 "value": "—" if hours is None else f"{hours:.1f}",
                 "counts": f"contracted {metrics['hours_contracted_per_week']:g} h/week"})
    return rows


# The funnel's stages as an owner reads them under the bars (the marts' names are slugs).
STAGE_LABELS = {"results_visible": "results visible", "lead_contacted": "friend contacted",
                "lead_booked": "friend booked", "loop_closed": "loop closed"}


def funnel_totals(funnel: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Patients at each funnel stage summed over the months, with the share of those treated
    (stages named for reading: "results visible", not "results_visible")."""
    from warehouse.metrics_ops import FUNNEL_STAGES

    totals = {stage: sum(int(row[stage] or 0) for row in funnel) for stage in FUNNEL_STAGES}
    treated = totals["treated"]
    return [{"stage": STAGE_LABELS.get(stage, stage.replace("_", " ")), "patients": count,
             "share": count / treated if treated else None, "order": i}
            for i, (stage, count) in enumerate(totals.items())]


def report_csv(*, session: Session, user: CurrentUser, practice_slug: str,
               report: dict[str, Any], now: datetime) -> bytes:
    """The report's figures as a formula-safe CSV (the export is audited)."""
    require_practice(user, practice_slug)
    frame = pl.DataFrame(metrics_table(report["metrics"]), schema={
        "metric": pl.String, "value": pl.String, "counts": pl.String})
    frame = frame.with_columns(pl.lit(report["name"]).alias("practice"))
    return export_csv(session=session, actor=user.actor, frame=frame,
                      practice_slug=practice_slug, object_ref=f"report_csv:{practice_slug}",
                      now=now)

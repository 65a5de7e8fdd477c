"""Report: the client owner's own practice — funnel vs. the 83% / 29% lines, revenue, forecast."""

from __future__ import annotations

from typing import Any

import streamlit as st

from console.platform.wording import kind_label
from console.reporting.charts import REFERRAL_LINE, WILLING_LINE, funnel_chart
from console.reporting.service import month_preview
from console.views.data import hours_text, money_text
from console.views.identity import store
from console.views.report import (
    funnel_totals,
    metrics_table,
    practice_report,
    report_csv,
    report_practices,
)
from loopdesk_core.clock import now
from pages.components import (
    current_user,
    guarded,
    monthly_pdf_download,
    rate,
    report_month_picker,
    return_banner,
    table,
)


def _half(label: str, half: dict[str, Any] | None) -> None:
    if half is None:
        st.metric(label, "—")
        return
    metrics = half["metrics"]
    st.metric(f"Referral rate {label}", rate(metrics["referral_rate"]))
    st.caption(f"{half['from'][:10]} to {half['to'][:10]}, "
               f"{metrics['cohort_patients']} patients")


user = current_user(__file__)
st.title("Report")
slugs = guarded(lambda: report_practices(user))
if not slugs:
    st.info("No practice is assigned to your account yet.")
    st.stop()
slug = st.selectbox("Practice", slugs) if len(slugs) > 1 else slugs[0]
moment = now()
with store() as db:
    report = guarded(lambda: practice_report(session=db, user=user, practice_slug=slug,
                                             now=moment))
metrics = report["metrics"]
st.header(report["name"])
picked, download = st.columns([2, 3], vertical_alignment="bottom")
with picked:
    month = report_month_picker(slug, key="report")
with store() as db:
    preview = guarded(lambda: month_preview(session=db, user=user, practice_slug=slug,
                                            month=month))
return_banner(preview)
with download:
    monthly_pdf_download(user, slug, month, key="report")
st.caption(f"Below: the last 12 full months, {report['period']['from']} to "
           f"{report['period']['to']}")

cols = st.columns(5)
cols[0].metric("Referral rate", rate(metrics["referral_rate"]))
cols[1].metric("Referred revenue", money_text(metrics["referred_revenue"]))
cols[2].metric("Loop closure", rate(metrics["loop_closure_rate"]))
cols[3].metric("Lead contact within SLA", rate(metrics["lead_contact_sla_rate"]))
cols[4].metric("Hours per week", hours_text(metrics["hours_delivered"]),
               help=f"contracted {metrics['hours_contracted_per_week']:g} h/week")

st.subheader("The referral funnel")
st.caption(f"Surveys find about {WILLING_LINE:.0%} of satisfied patients would refer, "
           f"but only about {REFERRAL_LINE:.0%} do.")
funnel = funnel_totals(report["funnel"])
if funnel[0]["patients"]:
    st.altair_chart(funnel_chart(funnel))
table(metrics_table(metrics), empty="No figures.")

st.subheader("SLA compliance")
table([{"task": kind_label(kind), "compliance": rate(value),
        "open breached": metrics["open_breached"][kind]}
       for kind, value in metrics["sla_compliance"].items()], empty="No tasks yet.")

st.subheader("Before and after onboarding")
halves = report["before_after"]
if halves["onboarded_at"] is None:
    st.caption("No onboarding date on file.")
else:
    before, after = st.columns(2)
    with before:
        _half("before", halves["before"])
    with after:
        _half("after", halves["after"])

st.subheader("What compounding means for the next two years")
forecast = report["forecast"]
assumptions = forecast["assumptions"]
if forecast["measured"] is None:
    st.caption("Not enough measured data for a forecast yet: "
               + str(assumptions.get("missing", "")))
else:
    measured, systematic = forecast["measured"], forecast["systematic"]
    table([{"scenario": name, **{f"year {i + 1}": round(v, 1) for i, v in enumerate(f["by_year"])},
            "total": round(f["total"], 1)}
           for name, f in (("at your measured rate", measured),
                           ("at a systematic 40%", systematic))], empty="")
    st.caption(
        f"Assumptions: {assumptions['patients_per_year']:.0f} patients a year (results visible "
        f"in {assumptions['measured_over']['from']} to {assumptions['measured_over']['to']}), "
        f"measured referral rate {rate(assumptions['measured_referral_rate'])}, lead conversion "
        f"{rate(assumptions['measured_conversion'])}; referred patients refer again at the same "
        "rate (compounding)."
    )
if report["share_blurb"]:
    st.text(report["share_blurb"])



def _csv() -> bytes:
    """Built only when the button is clicked, so only a real download is audited as an export."""
    with store() as db:
        return report_csv(session=db, user=user, practice_slug=slug, report=report, now=now())


st.download_button("Download CSV", data=_csv, file_name=f"loopdesk-report-{slug}.csv",
                   mime="text/csv")

"""Clients: each practice's time zone, hours, contract, SLA policy and fee, editable by managers;
the monthly report's recipients, when it last went out, and a preview and download of it."""

from __future__ import annotations

import streamlit as st

from console.platform.errors import UserError
from console.reporting.service import month_preview, report_status
from console.views.data import money_text
from console.views.identity import store
from console.views.manage import clients, update_client
from console.views.preview import zone_name
from loopdesk_core.clock import now
from pages.components import (
    current_user,
    guarded,
    monthly_pdf_download,
    report_month_picker,
    return_banner,
    show_flash,
    table,
)

user = current_user(__file__)
st.title("Clients")
show_flash()
with store() as db:
    practices = guarded(lambda: clients(session=db, user=user))
    reports = guarded(lambda: report_status(session=db, user=user))


# One row per client, every column in view: a dozen clients and eleven columns scrolled
# sideways ("contracted h/we…", "cosmetic dentistr…") and cut after the tenth client.
table(
    [{"client": p.name, "specialty": p.specialty.replace("_", " "),
      "time zone": zone_name(p.timezone),
      "open": f"{p.business_hours_start}–{p.business_hours_end}",
      "h/week": p.contracted_hours_per_week, "monthly fee": money_text(p.monthly_fee),
      "SLA days": f"{p.ask_sla_days} · {p.lead_sla_business_days} · "
                  f"{p.close_loop_sla_business_days}",
      "last report sent": reports.get(p.practice_slug, {}).get("last_sent", "never"),
      "recipients": len(reports.get(p.practice_slug, {}).get("recipients", []))}
     for p in practices],
    empty="No clients yet: run a build.", whole=True,
)
if practices:
    st.caption("h/week: contracted hours a week. SLA days: ask · first contact of a lead · "
               "closing the loop (the ask in calendar days, the others in business days).")
if practices:
    st.subheader("Edit a client")
    names = {p.practice_slug: p.name for p in practices}
    slug = st.selectbox("Client", list(names), format_func=lambda s: names[s])
    chosen = next(p for p in practices if p.practice_slug == slug)
    with st.form(f"edit-{slug}"):
        hours = st.number_input("Contracted hours per week", min_value=0.0, max_value=80.0,
                                value=float(chosen.contracted_hours_per_week), step=0.5)
        fee = st.text_input("Monthly fee in USD (leave empty if unknown)",
                            value="" if chosen.monthly_fee is None
                            else f"{chosen.monthly_fee:,.2f}", placeholder="unknown")
        opens, closes = st.columns(2)
        start = opens.text_input("Opens (HH:MM)", value=chosen.business_hours_start)
        end = closes.text_input("Closes (HH:MM)", value=chosen.business_hours_end)
        ask_days = st.number_input("Ask SLA (days)", min_value=1, max_value=60,
                                   value=chosen.ask_sla_days)
        lead_days = st.number_input("Lead first-contact SLA (business days)", min_value=1,
                                    max_value=10, value=chosen.lead_sla_business_days)
        loop_days = st.number_input("Loop-closure SLA (business days)", min_value=1,
                                    max_value=10, value=chosen.close_loop_sla_business_days)
        blurb = st.text_area("Share blurb (shown with referral links)", value=chosen.share_blurb,
                             max_chars=500)
        recipients = st.text_input(
            "Monthly report recipients besides the client owners (emails, comma-separated)",
            value=chosen.report_recipients or "")
        saved = st.form_submit_button("Save", type="primary")
    if saved:
        try:
            with store() as db:
                update_client(session=db, user=user, practice_slug=slug, now=now(), changes={
                    "contracted_hours_per_week": hours, "business_hours_start": start,
                    "business_hours_end": end, "ask_sla_days": ask_days,
                    "lead_sla_business_days": lead_days,
                    "close_loop_sla_business_days": loop_days, "share_blurb": blurb,
                    "monthly_fee": fee, "report_recipients": recipients})
        except UserError as error:
            st.error(str(error))
        else:
            st.success(f"Saved {names[slug]}.")

    st.subheader(f"Monthly report: {names[slug]}")
    status = reports.get(slug, {"recipients": [], "last_sent": "never"})
    st.caption(f"Last sent: {status['last_sent']} · goes to "
               + (", ".join(status["recipients"]) or "nobody yet (add a client owner or a "
                  "recipient above)"))
    month = report_month_picker(slug, key="clients")
    with store() as db:
        preview = guarded(lambda: month_preview(session=db, user=user, practice_slug=slug,
                                                month=month))
    return_banner(preview)
    table(preview["rows"], empty="No figures.")
    monthly_pdf_download(user, slug, month, key="clients")

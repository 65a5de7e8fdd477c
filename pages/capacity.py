"""Capacity: hours delivered vs. contracted per client per week, utilisation and backlog."""

from __future__ import annotations

import altair as alt
import streamlit as st

from console.clock import now
from console.views.data import hours_text
from console.views.manage import capacity_view
from pages.components import current_user, guarded, table

user = current_user(__file__)
st.title("Capacity")
view = guarded(lambda: capacity_view(user=user, now=now()))
current = view["current"]
totals = current["totals"]
delivered, contracted, backlog = st.columns(3)
delivered.metric("Delivered this week", hours_text(totals["hours_delivered"]))
contracted.metric("Contracted per week", hours_text(totals["contracted_hours_per_week"]))
backlog.metric("Backlog", hours_text(totals["backlog_hours"]))
available = totals["team_available_hours"]
if available is not None:
    fits = "fits" if totals["backlog_hours"] <= available else "does not fit"
    st.text(f"{totals['coordinators_active']} coordinators active, {hours_text(available)} "
            f"available: this week's backlog {fits}.")

if view["history"]:
    chart = (
        alt.Chart(alt.Data(values=view["history"]))
        .mark_bar()
        .encode(
            x=alt.X("week:N", title="week"),
            xOffset="measure:N",
            y=alt.Y("hours:Q", title="hours"),
            color=alt.Color("measure:N", title=""),
            column=alt.Column("practice:N", title=None),
            tooltip=["practice:N", "week:N", "measure:N", "hours:Q"],
        )
    )
    st.altair_chart(chart)

st.subheader(f"Week of {current['week_start']}")
table(
    [{"client": r["name"], "delivered h": round(r["hours_delivered"], 1),
      "contracted h": r["contracted_hours_per_week"],
      "vs contract h": round(r["hours_vs_contract"], 1), "backlog h": round(r["backlog_hours"], 1)}
     for r in current["practices"]],
    empty="No clients.",
)
st.subheader("Coordinator utilisation")
table(
    [{"coordinator": f"user:{r['coordinator_id']}", "hours": round(r["minutes_logged"] / 60, 1),
      "utilisation": f"{100 * r['utilisation']:.0f}%" if r["utilisation"] is not None else "—"}
     for r in current["coordinators"]],
    empty="No coordinator time logged this week.",
)

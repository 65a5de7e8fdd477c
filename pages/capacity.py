"""Capacity: does this week fit? Hours delivered vs pro-rated contract, coordinator time left
today and this week, backlog by kind, one sentence — and each coordinator's weekly schedule."""

from __future__ import annotations

import altair as alt
import streamlit as st

from console.platform.errors import UserError
from console.views.capacity import (
    DEFAULT_WEEKLY_HOURS,
    MAX_WEEKLY_HOURS,
    capacity_today,
    chart_rows,
    coordinators_for_schedule,
    set_weekly_hours,
)
from console.views.data import hours_text
from console.views.identity import store
from loopdesk_core.clock import now
from pages.components import current_user, flash, guarded, show_flash, table

user = current_user(__file__)
st.title("Capacity")
show_flash()
with store() as db:
    view = guarded(lambda: capacity_today(session=db, user=user, now=now()))
if view.backlog_hours <= view.hours_left:
    st.success(view.sentence)
else:
    st.warning(view.sentence)
left, today, backlog = st.columns(3)
left.metric("Coordinator time left this week", hours_text(view.hours_left))
today.metric("Coordinators working today", str(len(view.coordinators)),
             help="Active coordinators with hours on their weekly schedule")
backlog.metric("Backlog due this week", hours_text(view.backlog_hours))

st.subheader(f"Hours this week (since Monday {view.week_start})")
rows = chart_rows(view)
if rows:
    # Names in full: Vega-Lite cuts axis labels at 180 px by default ("Beacon Hill Impla…").
    base = alt.Chart(alt.Data(values=rows)).encode(y=alt.Y(
        "practice:N", title=None, sort="ascending", axis=alt.Axis(labelLimit=0)))
    contract = base.mark_bar(color="#e6e6e6").encode(x=alt.X("contract:Q", title="hours"),
                                                      tooltip=["practice:N", "contract:Q"])
    delivered = base.mark_bar(color="#1f77b4", size=12).encode(
        x="delivered:Q", tooltip=["practice:N", "delivered:Q", "pro-rated contract:Q"])
    due = base.mark_tick(color="#d62728", thickness=3, size=20).encode(
        x="pro-rated contract:Q", tooltip=["practice:N", "pro-rated contract:Q"])
    st.altair_chart((contract + delivered + due).properties(height=28 * len(rows) + 40),
                    width="stretch")
    st.caption("Blue: hours delivered so far. Red tick: the contract pro-rated to the working "
               "days gone by. Grey: the full week's contract.")
table([{"client": w.name, "delivered h": round(w.delivered_hours, 1),
        "due by now h": round(w.prorated_contract_hours, 1),
        "behind h": round(w.behind_hours, 1), "contract h": w.contract_hours}
       for w in view.practices], empty="No clients.", whole=True)

st.subheader("Backlog by kind")
table([{"task": kind, "hours": round(hours, 1)} for kind, hours in view.backlog_by_kind.items()],
      empty="No open work due this week.")

st.subheader("Coordinators")
table([{"coordinator": c.email, "weekly hours": c.weekly_hours,
        "logged this week h": round(c.logged_week_hours, 1),
        "left this week h": round(c.left_week_hours, 1),
        "left today h": round(c.left_today_hours, 1)} for c in view.coordinators],
      empty="No coordinator is scheduled this week.", whole=True)


def _save_schedule(people: dict[int, str]) -> None:
    chosen = next((uid for uid, email in people.items()
                   if email == st.session_state.get("schedule_who")), None)
    if chosen is None:
        flash("error", "Choose a coordinator.")
        return
    try:
        with store() as session:
            set_weekly_hours(session=session, user=user, coordinator_id=chosen,
                             hours=float(st.session_state["schedule_hours"]), now=now())
    except UserError as error:
        flash("error", str(error))
        return
    flash("success", f"Saved the weekly hours of {people[chosen]}.")


with st.expander("Set a coordinator's weekly hours"), store() as db:
    people = coordinators_for_schedule(session=db, user=user)
    if not people:
        st.caption("No coordinators yet.")
    else:
        with st.form("schedule"):
            st.selectbox("Coordinator", list(people.values()), key="schedule_who")
            st.number_input("Hours per week (0 = not working this week)", min_value=0.0,
                            max_value=MAX_WEEKLY_HOURS, value=DEFAULT_WEEKLY_HOURS, step=1.0,
                            key="schedule_hours")
            st.form_submit_button("Save schedule", on_click=_save_schedule, args=(people,))

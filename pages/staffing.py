"""Staffing what-if: simulate the agency's own backlog with 1…N coordinators (managers)."""

from __future__ import annotations

import altair as alt
import streamlit as st

from console.views.identity import store
from console.views.simulation import (
    MAX_DAYS,
    MAX_TEAM,
    StaffingJob,
    staffing_answer,
    staffing_job,
    staffing_rows,
    start_staffing,
    team_size,
)
from loopdesk_core.clock import now
from pages.components import current_user, guarded

user = current_user(__file__)
st.title("Staffing what-if")
st.caption(
    "Runs the simulator on your own practices and backlog, with patients and friends behaving "
    "as the queue has measured them and each client's contracted hours, once per team size. "
    "It runs in the background: you can leave this page and come back."
)
with store() as db:
    current = team_size(db)
left, right = st.columns(2)
most = int(left.number_input("Up to this many coordinators", min_value=1, max_value=MAX_TEAM,
                             value=min(MAX_TEAM, max(2, current + 1)), step=1))
days = int(right.number_input("Working days to simulate", min_value=2, max_value=MAX_DAYS,
                              value=5, step=1))
sizes = list(range(1, most + 1))
warm_up = min(2, days - 1)
job = guarded(lambda: staffing_job(user=user, sizes=sizes, days=days))
if st.button("Run the what-if", type="primary", disabled=job is not None and not job.done):
    with store() as db:
        job = guarded(lambda: start_staffing(session=db, user=user, sizes=sizes, days=days,
                                             now=now()))


def _charts(finished: StaffingJob) -> None:
    answer = staffing_answer(finished.results, days=days, warm_up=warm_up)
    (st.warning if answer.startswith("Even") else st.success)(answer)
    rows = staffing_rows(finished, days, warm_up)
    sla, hours, revenue = st.columns(3)
    sla.altair_chart(
        alt.Chart(alt.Data(values=rows["sla"])).mark_line(point=True).encode(
            x=alt.X("coordinators:O"), y=alt.Y("SLA met:Q", axis=alt.Axis(format="%")),
            color=alt.Color("kind:N", title=""), tooltip=["kind:N", "coordinators:O",
                                                         alt.Tooltip("SLA met:Q", format=".0%")],
        ).properties(title="SLA compliance"))
    revenue.altair_chart(
        alt.Chart(alt.Data(values=rows["revenue"])).mark_bar().encode(
            x=alt.X("coordinators:O"), y=alt.Y("referred revenue / week:Q",
                                               axis=alt.Axis(format="$,.0f")),
            tooltip=["coordinators:O", "referred revenue / week:Q"],
        ).properties(title="Referred revenue per week"))
    hours.altair_chart(
        alt.Chart(alt.Data(values=rows["hours"])).mark_line(point=True).encode(
            x=alt.X("coordinators:O"), y=alt.Y("delivered h/week:Q"),
            color=alt.Color("client:N", title=""),
            tooltip=["client:N", "coordinators:O", "delivered h/week:Q", "contracted h/week:Q"],
        ).properties(title="Hours delivered per client (per week)"))
    st.dataframe(rows["hours"], hide_index=True, width="stretch")


@st.fragment(run_every=2.0)
def _progress() -> None:
    running = staffing_job(user=user, sizes=sizes, days=days)
    if running is None:
        return
    if running.done:
        st.rerun()
    st.progress(running.fraction, text=f"Simulating — {running.message}")


if job is None:
    st.info("Choose the team sizes and press Run: each team size is one simulation, a minute "
            "or more for a dozen clients.")
elif job.error:
    st.error(f"The what-if could not run: {job.error}")
elif not job.done:
    _progress()
else:
    _charts(job)

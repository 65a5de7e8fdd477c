"""Staffing what-if: simulate the agency's own backlog with 1…N coordinators (managers)."""

from __future__ import annotations

from datetime import datetime, timedelta

import altair as alt
import streamlit as st

from console.platform.wording import kind_label, span
from console.views.identity import store
from console.views.simulation import (
    MAX_DAYS,
    StaffingJob,
    max_team,
    staffing_answer,
    staffing_estimate,
    staffing_job,
    staffing_rows,
    start_staffing,
    team_size,
)
from loopdesk_core.clock import now
from pages.components import current_user, guarded

# A busy shared server runs a simulation up to this many times slower than a quiet one
# (measured 1.0× at load 1.8, 3.2× at load 5.5, 4× at load 12 on 2 cores, 2026-12-02).
BUSY_FACTOR = 3


def progress_text(job: StaffingJob, moment: datetime) -> str:
    """Which simulation of how many runs, and about how long is left (from the pace so far,
    each team size weighed by its expected cost; none until there is a pace to go by)."""
    total = len(job.sizes)
    current = min(len(job.results) + 1, total)
    text = f"Simulation {current} of {total} — {job.message}"
    elapsed = (moment - job.started_at).total_seconds()
    if job.fraction >= 0.02 and elapsed > 0:
        left = elapsed * (1 - job.fraction) / job.fraction
        text += f" · about {span(timedelta(seconds=left))} left"
    return text

user = current_user(__file__)
st.title("Staffing what-if")
st.caption(
    "Runs the simulator on your own practices and backlog, with patients and friends behaving "
    "as the queue has measured them and each client's contracted hours, once per team size. "
    "It runs in the background: you can leave this page and come back."
)
with store() as db:
    current = team_size(db)
largest = max_team(current)
fewest_col, most_col, days_col = st.columns(3)
fewest = int(fewest_col.number_input(
    "From this many coordinators", min_value=1, max_value=largest,
    value=max(1, current - 3), step=1))
most = int(most_col.number_input(
    "Up to this many coordinators", min_value=1, max_value=largest,
    value=min(largest, max(2, current + 1)), step=1))
days = int(days_col.number_input("Working days to simulate", min_value=2, max_value=MAX_DAYS,
                                 value=5, step=1))
fewest = min(fewest, most)
st.caption(f"You have {current} active coordinator{'s' if current != 1 else ''}: the "
           f"what-if can simulate teams of 1 to {largest}.")
sizes = list(range(fewest, most + 1))
warm_up = min(2, days - 1)
job = guarded(lambda: staffing_job(user=user, sizes=sizes, days=days))
if st.button("Run the what-if", type="primary", disabled=job is not None and not job.done):
    with store() as db:
        job = guarded(lambda: start_staffing(session=db, user=user, sizes=sizes, days=days,
                                             now=now()))


def _plural(size: int) -> str:
    return f"{size} coordinator{'s' if size != 1 else ''}"


def _charts(finished: StaffingJob) -> None:
    answer = staffing_answer(finished.results, days=days, warm_up=warm_up, current=current)
    (st.warning if answer.startswith("Even") else st.success)(answer)
    rows = staffing_rows(finished, days, warm_up)
    for row in rows["sla"]:  # "Contact a referred lead", not "contact lead"
        row["kind"] = kind_label(row["kind"].replace(" ", "_"))
    team = alt.X("coordinators:O", title="coordinators", axis=alt.Axis(labelAngle=0))
    sla, revenue = st.columns(2)
    sla.altair_chart(
        alt.Chart(alt.Data(values=rows["sla"])).mark_line(point=True).encode(
            x=team, y=alt.Y("SLA met:Q", axis=alt.Axis(format="%")),
            color=alt.Color("kind:N", title="", legend=alt.Legend(orient="bottom", columns=2,
                                                                  labelLimit=0)),
            tooltip=["kind:N", "coordinators:O", alt.Tooltip("SLA met:Q", format=".0%")],
        ).properties(title="SLA compliance"))
    revenue.altair_chart(
        alt.Chart(alt.Data(values=rows["revenue"])).mark_bar().encode(
            x=team, y=alt.Y("referred revenue / week:Q", axis=alt.Axis(format="$,.0f")),
            tooltip=["coordinators:O", "referred revenue / week:Q"],
        ).properties(title="Referred revenue per week"))
    # Clients as rows, team sizes as columns, each cell the share of the contract delivered:
    # a dozen clients' lines in a third of the page (their legend cut) could not be read.
    for row in rows["hours"]:
        contracted = row["contracted h/week"]
        row["share of contract"] = row["delivered h/week"] / contracted if contracted else 1.0
    client = alt.Y("client:N", title=None, axis=alt.Axis(labelLimit=0))
    base = alt.Chart(alt.Data(values=rows["hours"])).encode(
        x=alt.X("coordinators:O", title="coordinators", axis=alt.Axis(labelAngle=0,
                                                                      orient="top")), y=client)
    cells = base.mark_rect().encode(
        color=alt.Color("share of contract:Q", title="of contract",
                        scale=alt.Scale(domain=[0, 1], scheme="redyellowgreen", clamp=True),
                        legend=alt.Legend(format="%")),
        tooltip=["client:N", "coordinators:O", "delivered h/week:Q", "contracted h/week:Q",
                 alt.Tooltip("share of contract:Q", format=".0%")])
    labels = base.mark_text(fontSize=12).encode(
        text=alt.Text("share of contract:Q", format=".0%"))
    clients = len({row["client"] for row in rows["hours"]})
    st.altair_chart((cells + labels).properties(
        title="Hours delivered per week, as a share of each client's contract",
        height=26 * max(1, clients) + 40), width="stretch")
    st.dataframe(rows["hours"], hide_index=True, width="stretch")


@st.fragment(run_every=2.0)
def _progress() -> None:
    running = staffing_job(user=user, sizes=sizes, days=days)
    if running is None:
        return
    if running.done:
        st.rerun()
    st.progress(running.fraction, text=progress_text(running, now()))


if job is None:
    with store() as db:
        quiet = staffing_estimate(db, sizes, days)
    teams = (f"{sizes[0]} to {sizes[-1]} coordinators" if len(sizes) > 1
             else _plural(sizes[0]))
    st.info(f"Choose the team sizes and press Run: each team size is one simulation, larger "
            f"teams taking longer ({teams}, {len(sizes)} simulation"
            f"{'s' if len(sizes) != 1 else ''}: about {span(timedelta(seconds=quiet))}, up to "
            f"{span(timedelta(seconds=BUSY_FACTOR * quiet))} when the server is busy). "
            "You can leave the page and keep working meanwhile.")
elif job.error:
    st.error(f"The what-if could not run: {job.error}")
elif not job.done:
    _progress()
else:
    _charts(job)

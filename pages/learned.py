"""What the queue has learned: each learned rate with its evidence, and the answer-rate curve."""

from __future__ import annotations

import altair as alt
import streamlit as st

from console.platform.wording import KIND_LABELS
from console.views.identity import store
from console.views.simulation import learned_view
from pages.components import current_user, guarded, table

user = current_user(__file__)
st.title("What the queue has learned")
with store() as db:
    view = guarded(lambda: learned_view(session=db, user=user))
if not view["rows"]:
    st.info("Nothing learned yet: the queue learns from logged calls at each build.")
    st.stop()
st.caption(
    f"From {view['calls']:,} logged calls. Each rate starts at the hand-set value (prior) and "
    "moves towards what the calls show as evidence grows; the queue ranks with these rates."
)
if view["hours"]:
    st.subheader("Who answers when (local time of the person called; hours with calls)")
    chart = (
        alt.Chart(alt.Data(values=view["hours"]))
        .mark_line(point=True)
        .encode(
            x=alt.X("hour:O", title="local hour", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("answer rate:Q", title="answer rate", axis=alt.Axis(format="%")),
            color=alt.Color("who:N", title=""),
            tooltip=["who:N", "hour:O", alt.Tooltip("answer rate:Q", format=".0%"), "calls:Q"],
        )
    )
    st.altair_chart(chart)
st.subheader("Every learned rate")


def _readable(row: dict[str, object]) -> dict[str, object]:
    """Rates as percentages ("74%", not 0.736) and task kinds as coordinators read them."""
    group = str(row["for"])
    return {**row, "for": KIND_LABELS.get(group.replace(" ", "_"), group),
            "learned": f"{float(row['learned']):.0%}",  # type: ignore[arg-type]
            "prior": f"{float(row['prior']):.0%}"}  # type: ignore[arg-type]


table([_readable(row) for row in view["rows"]], empty="Nothing learned yet.")

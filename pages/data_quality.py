"""Data quality: paused feeds, quarantined rows (file, line, column, reason), undeliverable
addresses per practice."""

from __future__ import annotations

import altair as alt
import streamlit as st

from console.views.identity import store
from console.views.manage import data_quality_view
from loopdesk_core.clock import now
from pages.components import current_user, guarded, table

user = current_user(__file__)
st.title("Data quality")
with store() as db:
    view = guarded(lambda: data_quality_view(session=db, user=user, now=now()))
names: dict[str, str] = view["names"]


def _practice(slug: str | None) -> str:
    return names.get(slug, "a practice not yet set up") if slug else "(agency)"


def _status(value: str | None) -> str:
    return value.replace("_", " ") if value else "—"


st.subheader("Paused feeds")
table([{"practice": _practice(f["practice_slug"]), "file": f["file"],
        "status": _status(f["feed_status"]), "message": f["feed_message"] or "—"}
       for f in view["paused"]],
      empty="Every feed is loading normally.")
st.subheader("Feeds")
table([{"practice": _practice(f["practice_slug"]), "file": f["file"],
        "quarantined (last run)": f["quarantined_rows"],
        "quarantined (all runs)": f["quarantined_rows_all_runs"],
        "status": _status(f["feed_status"])} for f in view["feeds"]], empty="No feeds yet.")
st.subheader("Undeliverable addresses")
st.caption("Emails bounced or refused for good, per practice: nothing more is sent to those "
           "addresses; the patient's next ask uses another consented channel or a call.")
undeliverable = view["undeliverable"]
if undeliverable:
    st.altair_chart(
        alt.Chart(alt.Data(values=undeliverable)).mark_bar().encode(
            x=alt.X("addresses:Q", title="undeliverable addresses",
                    axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y("practice:N", title=None, sort="-x"),
            color=alt.Color("channel:N", title=""),
        )
    )
table(undeliverable, empty="No undeliverable addresses.")
st.subheader("Quarantined rows")
st.caption("Nothing is dropped: each bad row is kept here with the exact reason.")
table([{"practice": _practice(r["practice_slug"]), "file": r["file"], "line": r["line"],
        "column": r["column_name"], "reason": r["reason"]} for r in view["rows"]],
      empty="No quarantined rows.")

"""Data quality: paused feeds and quarantined rows with file, line, column and reason."""

from __future__ import annotations

import streamlit as st

from console.clock import now
from console.views.identity import store
from console.views.manage import data_quality_view
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
st.subheader("Quarantined rows")
st.caption("Nothing is dropped: each bad row is kept here with the exact reason.")
table([{"practice": _practice(r["practice_slug"]), "file": r["file"], "line": r["line"],
        "column": r["column_name"], "reason": r["reason"]} for r in view["rows"]],
      empty="No quarantined rows.")

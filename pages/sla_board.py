"""SLA board: per client compliance by task kind, and the breached and at-risk tasks."""

from __future__ import annotations

import streamlit as st

from console.clock import now
from console.views.identity import store
from console.views.manage import sla_board_view
from pages.components import current_user, guarded, rate, table

user = current_user(__file__)
st.title("SLA board")
with store() as db:
    view = guarded(lambda: sla_board_view(session=db, user=user, now=now()))
board = view["board"]
st.caption("Compliance over the last 30 days (tasks done before their deadline / tasks due); "
           "at risk = due within 24 h.")
rows = [
    {"client": p["name"],
     **{kind.replace("_", " "): rate(r["value"]) for kind, r in p["compliance"].items()},
     "breached": len(p["breached_task_ids"]), "at risk": len(p["at_risk_task_ids"])}
    for p in board["practices"]
]
table(rows, empty="No clients.")
st.subheader("Breached and at-risk tasks")
table(view["flagged"], empty="Nothing breached or at risk.")

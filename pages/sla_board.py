"""SLA board: per client compliance by task kind, and the breached and at-risk tasks."""

from __future__ import annotations

import streamlit as st

from console.clock import now
from console.views.identity import store
from console.views.manage import sla_board_view
from console.wording import kind_label
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
     **{kind_label(kind): rate(r["value"]) for kind, r in p["compliance"].items()},
     "breached": p["open_counts"]["breached"], "at risk": p["open_counts"]["at risk"]}
    for p in board["practices"]
]
table(rows, empty="No clients.")
st.subheader("Breached and at-risk tasks")
st.caption("Open tasks only, most overdue first; deadlines in each practice's local time.")
flagged = view["flagged"]
left, right = st.columns(2)
practice = left.selectbox("Practice", ["All practices", *sorted({r["practice"] for r in flagged})],
                          key="sla_practice")
kind = right.selectbox("Task", ["All tasks", *sorted({r["task"] for r in flagged})],
                       key="sla_kind")
shown = [{k: v for k, v in r.items() if not k.startswith("_")} for r in flagged
         if practice in ("All practices", r["practice"]) and kind in ("All tasks", r["task"])]
table(shown, empty="Nothing breached or at risk.")

"""SLA board: per client compliance by task kind, and the breached and at-risk tasks."""

from __future__ import annotations

import streamlit as st

from console.platform.errors import UserError
from console.platform.wording import kind_label
from console.views.identity import store
from console.views.manage import assign_task, assignable_coordinators, sla_board_view
from loopdesk_core.clock import now
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
table(rows, empty="No clients.", whole=True)
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

# "Assign to…": lease an unheld flagged task to a coordinator of its practice.
waiting = [r for r in flagged if r["held by"].startswith("nobody")
           and practice in ("All practices", r["practice"]) and kind in ("All tasks", r["task"])]
if waiting and user.role.value in ("manager", "admin"):
    st.subheader("Assign to…")
    labels = {f"{r['task']} · {r['practice']} · {r['time left']}"
              + (f" ({n})" if n else ""): r for n, r in enumerate(waiting)}
    what, who, go = st.columns([3, 2, 1], vertical_alignment="bottom")
    picked = labels[what.selectbox("Task", list(labels), key="assign_task")]
    with store() as db:
        people = assignable_coordinators(session=db, user=user,
                                         practice_name=picked["practice"])
    if not people:
        who.caption("No coordinator works for this practice.")
    else:
        email = who.selectbox("Coordinator", list(people.values()), key="assign_who")
        if go.button("Assign", type="primary", key="assign_go"):
            coordinator = next(uid for uid, e in people.items() if e == email)
            try:
                with store() as db:
                    assign_task(session=db, user=user, task_id=int(picked["_task_id"]),
                                coordinator_id=coordinator, now=now())
            except UserError as error:
                st.error(str(error))
            else:
                st.success(f"Assigned to {email}: it opens on their My queue.")

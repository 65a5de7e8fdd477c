"""Loop closures: referrers to thank and tell the outcome, open ones first."""

from __future__ import annotations

import streamlit as st

from console.views.identity import store
from console.views.lists import loop_closures
from loopdesk_core.clock import now
from pages.components import act_on, current_user, filtered, guarded, table

user = current_user(__file__)
st.title("Loop closures")
st.caption("Referrers to thank and tell their friend's outcome: open ones first, then the "
           "last 30 days.")
with store() as db:
    lines = guarded(lambda: loop_closures(session=db, user=user, now=now()))
shown = filtered(lines, key="loops")
act_on(shown, key="loops", picker="Referrer to call", action="Close the loop",
       empty="No loop waits to be closed in this view.")
table([line.cells for line in shown], empty="No loop closures in this view.")

"""Loop closures: referrers to thank and tell the outcome, open ones first."""

from __future__ import annotations

import streamlit as st

from console.clock import now
from console.views.identity import store
from console.views.lists import loop_closures
from pages.components import current_user, guarded, table

user = current_user(__file__)
st.title("Loop closures")
st.caption("Referrers to thank and tell their friend's outcome (open, and the last 30 days).")
with store() as db:
    rows = guarded(lambda: loop_closures(session=db, user=user, now=now()))
table(rows, empty="No loop closures due.")

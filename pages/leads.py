"""Leads: the referred friends of the coordinator's practices, newest first."""

from __future__ import annotations

import streamlit as st

from console.clock import now
from console.views.identity import store
from console.views.lists import LIST_DAYS, leads_list
from pages.components import current_user, guarded, table

user = current_user(__file__)
st.title("Leads")
st.caption(f"Referred in the last {LIST_DAYS} days at your practices.")
with store() as db:
    rows = guarded(lambda: leads_list(session=db, user=user, now=now()))
table(rows, empty="No leads in this period.")

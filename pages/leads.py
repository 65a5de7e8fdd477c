"""Leads: the referred friends of the coordinator's practices, ones still to call first."""

from __future__ import annotations

import streamlit as st

from console.views.identity import store
from console.views.lists import LIST_DAYS, leads_list
from loopdesk_core.clock import now
from pages.components import act_on, current_user, filtered, guarded, table

user = current_user(__file__)
st.title("Leads")
st.caption(f"Referred in the last {LIST_DAYS} days at your practices; leads still to call "
           "first.")
with store() as db:
    lines = guarded(lambda: leads_list(session=db, user=user, now=now()))
shown = filtered(lines, key="leads")
act_on(shown, key="leads", picker="Lead to call", action="Call now",
       empty="No lead waits for a call in this view.")
table([line.cells for line in shown], empty="No leads in this view.")

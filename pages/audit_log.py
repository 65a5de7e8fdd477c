"""Audit log: the newest audited actions (ids only, never names)."""

from __future__ import annotations

import streamlit as st

from console.views.identity import store
from console.views.manage import audit_rows
from pages.components import current_user, guarded, table

user = current_user(__file__)
st.title("Audit log")
st.caption("Append-only and hash-chained: logins, views of patient data, exports, claims, "
           "dispositions, consent and role changes.")
with store() as db:
    rows = guarded(lambda: audit_rows(session=db, user=user))
table(rows, empty="No events yet.")

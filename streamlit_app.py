"""The console's router: who is logged in (server-side session) and which pages their role sees.

May import: pages, loopdesk_core.
"""

from __future__ import annotations

import streamlit as st

from loopdesk_core.clock import now
from pages.components import (
    cookie_sync,
    log_out_now,
    login_form,
    signed_in,
    stylesheet,
    warm_once,
)
from pages.registry import pages_for

st.set_page_config(page_title="Loopdesk", layout="wide")
stylesheet()  # a constant file: the stale fade as one step (console/web/static/console.css)

# Role and practices are re-read from the store on every rerun (SECURITY 5), once: the user
# resolved here (or by a widget callback earlier in the run) is the page's for this run. The
# session comes from this page's token or, after a reload / new tab / deep link, the cookie.
user = signed_in(now())
cookie_sync()
warm_once()  # the first card of the process need not open the snapshot on a click
if user is None:
    # Always call st.navigation, so the pages/ folder is never offered before login.
    st.navigation([st.Page(login_form, title="Log in", url_path="login")]).run()
    st.stop()

with st.sidebar:
    st.text(f"{user.email} ({user.role.value.replace('_', ' ')})")
    st.button("Log out", on_click=log_out_now)

page = st.navigation(
    [st.Page(spec.path, title=spec.title, icon=spec.icon) for spec in pages_for(user)]
)
page.run()

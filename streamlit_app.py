"""The console's router: who is logged in (server-side session) and which pages their role sees."""

from __future__ import annotations

import streamlit as st

from console.clock import now
from console.views.identity import pages_for, who_is
from pages.components import TOKEN_KEY, log_out_now, login_form

st.set_page_config(page_title="Loopdesk", layout="wide")

# Role and practices are re-read from the store on every rerun (SECURITY 5).
user = who_is(token=st.session_state.get(TOKEN_KEY), now=now())
if user is None:
    st.session_state.pop(TOKEN_KEY, None)
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

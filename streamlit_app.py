"""The console's router (minimal placeholder until the real pages are written)."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Loopdesk", layout="wide")
st.title("Loopdesk")
st.write("The operations console is being set up.")

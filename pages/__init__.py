"""Streamlit pages: layout and widgets only; they call console services (console.views).

May import: console.views, console.reporting, console.work, console.messaging, console.identity,
console.platform, console.models, loopdesk_core.
"""

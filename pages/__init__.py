"""Streamlit pages: layout and widgets only; they call console services (console.views)."""

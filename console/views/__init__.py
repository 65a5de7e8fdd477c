"""Page-facing read models and actions: what the Streamlit pages call (scoped, audited)."""

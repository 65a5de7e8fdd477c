"""Page-facing read models and actions: what the Streamlit pages call (scoped, audited).

May import: console.simulation, console.reporting, console.work, console.scoring,
console.messaging, console.contact, console.identity, console.platform, console.models,
loopdesk_core, warehouse.
"""

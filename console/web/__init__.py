"""What serves HTTP: the ASGI app that mounts every route beside Streamlit (`app`), the JSON
report API (`http`), health checks (`health`) and `serve` (uvicorn).

May import: console.outreach, console.reporting, console.identity, console.platform,
console.models, loopdesk_core, warehouse.
"""

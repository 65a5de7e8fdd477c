"""CLI commands, one module per area; each module exposes `register(app)`.

May import: console.web, console.simulation, console.reporting, console.outreach,
console.lifecycle, console.work, console.messaging, console.identity, console.platform,
console.models, console.migrations, loopdesk_core, warehouse, pipelines.
"""

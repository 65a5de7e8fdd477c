"""The agency simulator: the real services driven by simulated people (docs/simulation.md).

May import: console.outreach, console.lifecycle, console.work, console.messaging,
console.identity, console.platform, console.models, loopdesk_core, warehouse, pipelines.
"""

"""Running the whole loop and the server's upkeep: `build` (operational events → warehouse →
task refresh), the export of operational events to the warehouse (`ops_export`) and
`operations` (backup, restore, audit verification).

May import: console.work, console.identity, console.platform, console.models,
console.migrations, loopdesk_core, warehouse, pipelines.
"""

"""The console's infrastructure, shared by every context: the operational store's engine and
sessions with the SQLite writer lock and retries (`db`), the published warehouse snapshot as
the console opens it (`snapshot`), the user-facing error types (`errors`), the HTTP edge's
client address and path redaction (`edge`) and how the console words times, outcomes and
labels (`wording`).

May import: console.models, console.migrations, loopdesk_core, warehouse.
"""

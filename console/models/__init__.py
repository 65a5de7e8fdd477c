"""SQLModel tables of the operational store, one module per area.

Importing one module registers its own tables only, so `claim` does not build the outreach
tables it never reads (start-up, issue 10s). `console.models.registry` imports every module:
whatever needs `SQLModel.metadata` to know every table (migrations, `create_all` in tests)
imports it first.

May import: loopdesk_core.
"""

"""Loopdesk's console: the operational store, its services grouped by context, CLI and HTTP.

One folder per bounded context (platform, models, identity, contact, messaging, scoring, work,
outreach, reporting, lifecycle, web, demo, simulation) plus the read models the pages call
(views), the CLI commands (commands) and the store's schema migrations (migrations). Each
folder's `__init__` says what lives there and what it may import; tests/test_layout.py checks
it. This module and every folder's `__init__` import nothing, so importing one service does
not load the others. Modules directly here: only `cli.py`, the CLI's composition root.

May import: console.commands, console.demo, console.platform, loopdesk_core.
"""

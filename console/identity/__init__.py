"""Who is acting and what they may see: the current user and their practice scope (`access`),
logging in and sessions (`auth`, `session_cookie`), passwords, signed tokens, user
administration (`users`) and the hash-chained audit log (`audit`).

May import: console.platform, console.models, loopdesk_core, warehouse.
"""

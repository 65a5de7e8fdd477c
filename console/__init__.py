"""Loopdesk's operational core: store, services, settings, CLI and HTTP routes.

Kept import-free so that `console.settings` and `console.clock` can be used by the
warehouse and pipelines without pulling in the rest of the console.
"""

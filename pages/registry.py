"""The console's pages per role: the registry lives in console/views/navigation.py (the demo's
login table reads it too); the router and the pages import it from here."""

from __future__ import annotations

from console.views.navigation import (
    AUDIT,
    CAPACITY,
    CLIENTS,
    LEADS,
    LEARNED,
    LINKS,
    LOOPS,
    PAGES_BY_ROLE,
    QUALITY,
    QUEUE,
    REPORT,
    SLA,
    STAFFING,
    TEMPLATES,
    USERS,
    PageSpec,
    pages_for,
    pages_for_role,
)

__all__ = ["AUDIT", "CAPACITY", "CLIENTS", "LEADS", "LEARNED", "LINKS", "LOOPS", "PAGES_BY_ROLE",
           "QUALITY", "QUEUE", "REPORT", "SLA", "STAFFING", "TEMPLATES", "USERS", "PageSpec",
           "pages_for", "pages_for_role"]

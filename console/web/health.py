"""Liveness and reachability of the two stores, as reported at /api/health."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine


def warehouse_status() -> dict[str, Any]:
    """Whether the current warehouse snapshot opens and answers a query."""
    try:
        from warehouse.snapshot import open_snapshot

        conn = open_snapshot()
        try:
            conn.execute("select 1").fetchone()
        finally:
            conn.close()
    except Exception as error:
        # The class name only: messages may carry file paths.
        return {"ok": False, "error": type(error).__name__}
    return {"ok": True}


def operational_store_status(engine: Engine) -> dict[str, Any]:
    """Whether the operational store accepts a connection and a query."""
    try:
        with engine.connect() as connection:
            connection.execute(text("select 1"))
    except Exception as error:
        return {"ok": False, "error": type(error).__name__}
    return {"ok": True}


def check_health(
    *,
    engine_factory: Callable[[], Engine],
    warehouse_probe: Callable[[], dict[str, Any]] = warehouse_status,
) -> dict[str, Any]:
    """`ok` when both stores answer, else `degraded`, with each store's status."""
    try:
        store = operational_store_status(engine_factory())
    except Exception as error:
        store = {"ok": False, "error": type(error).__name__}
    warehouse = warehouse_probe()
    healthy = bool(store.get("ok")) and bool(warehouse.get("ok"))
    return {
        "status": "ok" if healthy else "degraded",
        "warehouse": warehouse,
        "operational_store": store,
    }

"""Read-side boards for managers: funnel by month, SLA board and weekly capacity, scope-filtered."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import duckdb

from warehouse.metrics_base import (
    TASK_KINDS,
    rate,
    visible_practices,
)
from warehouse.scope import Scope

FUNNEL_STAGES: tuple[str, ...] = (
    "treated",
    "results_visible",
    "asked",
    "reached",
    "willing",
    "referred",
    "lead_contacted",
    "lead_booked",
    "loop_closed",
)
AVAILABLE_MINUTES_PER_COORDINATOR_WEEK = 2400.0  # assumed 40 h week; no roster exists yet


def _records(result: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """A query result as a list of column-name dicts (results here are small, aggregated rows)."""
    names = [column[0] for column in result.description or []]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def funnel_by_month(
    conn: duckdb.DuckDBPyConnection, *, scope: Scope, practice_slug: str
) -> list[dict[str, Any]]:
    """One row per month treated (oldest first) with distinct patients at each funnel stage."""
    visible_practices(conn, scope=scope, practice_slug=practice_slug)
    stages = ", ".join(FUNNEL_STAGES)
    return _records(
        conn.execute(
            f"select month, {stages} from mart_funnel_monthly "
            "where practice_slug = $slug order by month",
            {"slug": practice_slug},
        )
    )


def sla_board(
    conn: duckdb.DuckDBPyConnection,
    *,
    scope: Scope,
    now: datetime,
    days: int = 30,
    at_risk_within: timedelta = timedelta(hours=24),
) -> dict[str, Any]:
    """Per practice: SLA compliance by kind over the last `days`; breached and at-risk task ids."""
    practices = visible_practices(conn, scope=scope)
    slugs = [p.practice_slug for p in practices]
    since = now - timedelta(days=days)
    params: dict[str, Any] = {"slugs": slugs, "now": now, "since": since}
    compliance = _records(
        conn.execute(
            """
            select
                practice_slug,
                kind,
                count(*) filter (where not is_open or sla_deadline < $now) as due,
                count(*) filter (where met_sla) as met
            from mart_sla_tasks
            where practice_slug in (select unnest(cast($slugs as varchar[])))
                and not is_cancelled
                and sla_deadline >= $since
                and sla_deadline <= $now
            group by practice_slug, kind
            """,
            params,
        )
    )
    open_tasks = _records(
        conn.execute(
            """
            select
                practice_slug,
                list(task_id order by sla_deadline, task_id)
                    filter (where sla_deadline < $now) as breached,
                list(task_id order by sla_deadline, task_id)
                    filter (where sla_deadline >= $now and sla_deadline <= $horizon) as at_risk
            from mart_sla_tasks
            where practice_slug in (select unnest(cast($slugs as varchar[])))
                and is_open
            group by practice_slug
            """,
            {"slugs": slugs, "now": now, "horizon": now + at_risk_within},
        )
    )
    by_kind = {(r["practice_slug"], r["kind"]): r for r in compliance}
    lists = {r["practice_slug"]: r for r in open_tasks}
    board = []
    for practice in practices:
        slug = practice.practice_slug
        kinds = {}
        for kind in TASK_KINDS:
            row = by_kind.get((slug, kind), {"due": 0, "met": 0})
            kinds[kind] = rate(int(row["met"]), int(row["due"]))
        open_row = lists.get(slug, {})
        board.append(
            {
                "practice_slug": slug,
                "name": practice.name,
                "compliance": kinds,
                "breached_task_ids": [int(t) for t in open_row.get("breached") or []],
                "at_risk_task_ids": [int(t) for t in open_row.get("at_risk") or []],
            }
        )
    return {
        "now": now.isoformat(),
        "since": since.isoformat(),
        "at_risk_hours": at_risk_within.total_seconds() / 3600,
        "practices": board,
    }


def capacity(
    conn: duckdb.DuckDBPyConnection, *, scope: Scope, week_start: date
) -> dict[str, Any]:
    """Hours delivered vs. contracted per practice, coordinator utilisation, backlog in a week."""
    monday = week_start - timedelta(days=week_start.weekday())
    practices = visible_practices(conn, scope=scope)
    slugs = [p.practice_slug for p in practices]
    delivered = {
        r["practice_slug"]: float(r["hours_delivered"])
        for r in _records(
            conn.execute(
                """
                select practice_slug, hours_delivered from mart_capacity_weekly
                where practice_slug in (select unnest(cast($slugs as varchar[])))
                    and week_start = $monday
                """,
                {"slugs": slugs, "monday": monday},
            )
        )
    }
    backlog = {
        r["practice_slug"]: float(r["backlog_hours"])
        for r in _records(
            conn.execute(
                """
                select practice_slug, sum(backlog_hours) as backlog_hours
                from mart_capacity_backlog
                where practice_slug in (select unnest(cast($slugs as varchar[])))
                group by practice_slug
                """,
                {"slugs": slugs},
            )
        )
    }
    rows: list[dict[str, Any]] = [
        {
            "practice_slug": p.practice_slug,
            "name": p.name,
            "hours_delivered": delivered.get(p.practice_slug, 0.0),
            "contracted_hours_per_week": p.contracted_hours_per_week,
            "hours_vs_contract": delivered.get(p.practice_slug, 0.0)
            - p.contracted_hours_per_week,
            "backlog_hours": backlog.get(p.practice_slug, 0.0),
        }
        for p in practices
    ]
    # Coordinators work across practices, so their utilisation is agency-level information.
    coordinators = (
        _records(
            conn.execute(
                """
                select coordinator_id, minutes_logged, available_minutes, utilisation
                from mart_capacity_coordinators_weekly
                where week_start = $monday
                order by coordinator_id
                """,
                {"monday": monday},
            )
        )
        if scope.agency_wide
        else []
    )
    team_available_hours = AVAILABLE_MINUTES_PER_COORDINATOR_WEEK / 60 * len(coordinators)
    total_backlog = sum(r["backlog_hours"] for r in rows)
    return {
        "week_start": monday.isoformat(),
        "practices": rows,
        "coordinators": coordinators,
        "totals": {
            "hours_delivered": sum(r["hours_delivered"] for r in rows),
            "contracted_hours_per_week": sum(r["contracted_hours_per_week"] for r in rows),
            "backlog_hours": total_backlog,
            "coordinators_active": len(coordinators),
            "team_available_hours": team_available_hours if scope.agency_wide else None,
        },
    }


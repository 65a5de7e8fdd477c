"""Read-side lookups over the marts for the coordinators' views, each filtered by a scope.

A task's card (who the task is about, their treatment, the referrer, the lead) and the
coordinator's lists (recent leads, names for loop closures) read people from the published
snapshot through these functions; the console's views hold no SQL of their own. Like the
metric functions, each takes the acting user's `Scope` and returns nothing outside it: a
single record of a practice the scope does not allow reads as missing (None), a list is
restricted to the allowed practices. Rows are column-name dicts.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from warehouse.scope import Scope

if TYPE_CHECKING:
    import duckdb

_PRACTICES = "select practice_slug, name from mart_practices"
_PATIENT = """
select *
from mart_patients
where practice_slug = $practice and patient_id = $id
"""
_LEAD = """
select lead_first_name, lead_last_name, lead_phone, lead_email, status
from mart_leads
where practice_slug = $practice and lead_id = $id
"""
_TREATMENT = """
select category, description, value, results_visible_at
from mart_treatments
where practice_slug = $practice and treatment_id = $id
"""
_RECENT_LEADS = """
select
    l.practice_slug, l.lead_id, l.lead_first_name, l.lead_last_name, l.source,
    l.lead_phone, l.referred_at, l.status, l.referrer_patient_id
from mart_leads as l
where l.practice_slug in (select unnest(cast($slugs as varchar[])))
    and l.referred_at >= $since
order by l.referred_at desc, l.lead_id
limit $limit
"""
_PATIENT_NAMES = """
select practice_slug, patient_id, first_name, last_name
from mart_patients
where practice_slug in (select unnest(cast($slugs as varchar[])))
    and patient_id in (select unnest(cast($ids as varchar[])))
"""
_LEAD_NAMES = """
select practice_slug, lead_id, lead_first_name, lead_last_name, status
from mart_leads
where practice_slug in (select unnest(cast($slugs as varchar[])))
    and lead_id in (select unnest(cast($ids as varchar[])))
"""


def records(conn: duckdb.DuckDBPyConnection, sql: str,
            params: dict[str, Any]) -> list[dict[str, Any]]:
    """A small query result as column-name dicts."""
    result = conn.execute(sql, params)
    names = [column[0] for column in result.description or []]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def _one(conn: duckdb.DuckDBPyConnection, sql: str, *, scope: Scope, practice_slug: str,
         key: str) -> dict[str, Any] | None:
    if not scope.allows(practice_slug):
        return None
    rows = records(conn, sql, {"practice": practice_slug, "id": key})
    return rows[0] if rows else None


def practice_names(conn: duckdb.DuckDBPyConnection, *, scope: Scope) -> dict[str, str]:
    """The practices of the scope, slug → name."""
    return {row["practice_slug"]: row["name"] for row in records(conn, _PRACTICES, {})
            if scope.allows(row["practice_slug"])}


def patient(conn: duckdb.DuckDBPyConnection, *, scope: Scope, practice_slug: str,
            patient_id: str) -> dict[str, Any] | None:
    """Every column of the patient's `mart_patients` row, or None."""
    return _one(conn, _PATIENT, scope=scope, practice_slug=practice_slug, key=patient_id)


def lead(conn: duckdb.DuckDBPyConnection, *, scope: Scope, practice_slug: str,
         lead_id: str) -> dict[str, Any] | None:
    """The lead's name, phone, email and status from `mart_leads`, or None."""
    return _one(conn, _LEAD, scope=scope, practice_slug=practice_slug, key=lead_id)


def treatment(conn: duckdb.DuckDBPyConnection, *, scope: Scope, practice_slug: str,
              treatment_id: str) -> dict[str, Any] | None:
    """The treatment's category, description, value and results-visible time, or None."""
    return _one(conn, _TREATMENT, scope=scope, practice_slug=practice_slug, key=treatment_id)


def recent_leads(conn: duckdb.DuckDBPyConnection, *, scope: Scope,
                 practice_slugs: Iterable[str], since: datetime,
                 limit: int) -> list[dict[str, Any]]:
    """Leads of those practices (within the scope) referred since `since`, newest first."""
    slugs = scope.restrict(practice_slugs)
    if not slugs:
        return []
    return records(conn, _RECENT_LEADS, {"slugs": slugs, "since": since, "limit": limit})


def patient_names(conn: duckdb.DuckDBPyConnection, *, scope: Scope,
                  practice_slugs: Iterable[str],
                  patient_ids: Iterable[str]) -> list[dict[str, Any]]:
    """Practice, id, first and last name of those patients of those practices (in scope)."""
    slugs = scope.restrict(practice_slugs)
    if not slugs:
        return []
    return records(conn, _PATIENT_NAMES, {"slugs": slugs, "ids": sorted(set(patient_ids))})


def lead_names(conn: duckdb.DuckDBPyConnection, *, scope: Scope,
               practice_slugs: Iterable[str], lead_ids: Iterable[str]) -> list[dict[str, Any]]:
    """Practice, id, first and last name and status of those leads (in scope)."""
    slugs = scope.restrict(practice_slugs)
    if not slugs:
        return []
    return records(conn, _LEAD_NAMES, {"slugs": slugs, "ids": sorted(set(lead_ids))})

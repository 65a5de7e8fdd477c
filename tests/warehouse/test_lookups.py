"""Read-side lookups for the work views return nothing outside the acting scope (SECURITY 7)."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest

from tests.factories import NOW, lead_row, patient_row, practice_row, snapshot
from warehouse import lookups
from warehouse.scope import Scope

MINE, THEIRS = Scope.of(["mine"]), Scope.of(["theirs"])


@pytest.fixture
def conn() -> duckdb.DuckDBPyConnection:
    connection = snapshot(
        mart_practices=[practice_row("mine"), practice_row("theirs")],
        mart_patients=[patient_row("p-1", "mine", first_name="Ana"),
                       patient_row("p-1", "theirs", first_name="Bo")],
        mart_leads=[lead_row("l-1", "p-1", "mine", lead_first_name="Cy"),
                    lead_row("l-1", "p-1", "theirs", lead_first_name="Di"),
                    lead_row("l-old", "p-1", "mine", referred_at=NOW - timedelta(days=200))],
    )
    connection.execute("create table mart_treatments (practice_slug varchar, treatment_id "
                       "varchar, category varchar, description varchar, value double, "
                       "results_visible_at timestamptz)")
    connection.execute("insert into mart_treatments values ('mine', 't-1', 'implant', "
                       "'Implant', 4000, null), ('theirs', 't-1', 'veneers', 'Veneers', 900, "
                       "null)")
    return connection


def test_one_record_reads_only_inside_the_scope(conn: duckdb.DuckDBPyConnection) -> None:
    found = lookups.patient(conn, scope=MINE, practice_slug="mine", patient_id="p-1")
    assert found is not None and found["first_name"] == "Ana"
    assert lookups.patient(conn, scope=MINE, practice_slug="theirs", patient_id="p-1") is None
    lead = lookups.lead(conn, scope=MINE, practice_slug="mine", lead_id="l-1")
    assert lead is not None and lead["lead_first_name"] == "Cy" and lead["status"] == "new"
    assert lookups.lead(conn, scope=MINE, practice_slug="theirs", lead_id="l-1") is None
    treatment = lookups.treatment(conn, scope=THEIRS, practice_slug="theirs", treatment_id="t-1")
    assert treatment is not None and treatment["description"] == "Veneers"
    assert lookups.treatment(conn, scope=THEIRS, practice_slug="mine", treatment_id="t-1") is None
    assert lookups.patient(conn, scope=Scope(), practice_slug="mine", patient_id="p-1") is None


def test_lists_are_restricted_to_the_scope(conn: duckdb.DuckDBPyConnection) -> None:
    assert lookups.practice_names(conn, scope=MINE) == {"mine": "Mine"}
    assert lookups.practice_names(conn, scope=Scope.agency()) == {"mine": "Mine",
                                                                  "theirs": "Theirs"}
    both = ["mine", "theirs"]
    leads = lookups.recent_leads(conn, scope=MINE, practice_slugs=both,
                                 since=NOW - timedelta(days=90), limit=10)
    assert [(r["practice_slug"], r["lead_id"]) for r in leads] == [("mine", "l-1")]
    names = lookups.patient_names(conn, scope=THEIRS, practice_slugs=both, patient_ids=["p-1"])
    assert [(r["practice_slug"], r["first_name"]) for r in names] == [("theirs", "Bo")]
    friends = lookups.lead_names(conn, scope=MINE, practice_slugs=both, lead_ids=["l-1"])
    assert [(r["practice_slug"], r["lead_first_name"]) for r in friends] == [("mine", "Cy")]
    assert lookups.recent_leads(conn, scope=Scope(), practice_slugs=both, since=NOW,
                                limit=10) == []

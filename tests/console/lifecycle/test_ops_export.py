"""The operational-event export has exactly the warehouse's ops_schema.sql tables and columns."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from console.contact.consent import revoke_consent
from console.lifecycle.ops_export import export_operational_events, practice_calendars
from console.work.claims import claim_next
from console.work.dispositions import log_disposition
from console.work.leads import LeadInput
from tests.factories import NOW, add_practice, add_task, add_worker, session_for, sqlite_engine
from warehouse.rules import PracticeCalendar

SCHEMA_SQL = Path(__file__).parents[3] / "warehouse" / "ops_schema.sql"
DUCK_TO_ARROW = {
    "BIGINT": pa.int64(), "VARCHAR": pa.string(), "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(), "TIMESTAMP WITH TIME ZONE": pa.timestamp("us", tz="UTC"),
}  # fmt: skip


def _warehouse_tables() -> dict[str, list[tuple[str, pa.DataType]]]:
    connection = duckdb.connect(":memory:")
    connection.execute(SCHEMA_SQL.read_text())
    rows = connection.execute(
        "select table_name, column_name, data_type from information_schema.columns "
        "order by table_name, ordinal_position"
    ).fetchall()
    tables: dict[str, list[tuple[str, pa.DataType]]] = {}
    for table, column, kind in rows:
        tables.setdefault(table, []).append((column, DUCK_TO_ARROW[kind]))
    return tables


def test_export_matches_ops_schema_and_loads_into_duckdb(loopdesk_home: Path) -> None:
    with session_for(sqlite_engine(loopdesk_home)) as session:
        practice = add_practice(session)
        ask = add_task(session, practice, subject_id="p1")
        add_task(session, practice, subject_id="p9")
        user = add_worker(session, practices=["smile-ny"])
        claimed = claim_next(session=session, user=user, now=NOW)
        assert claimed is not None and claimed.task_id == ask.task_id
        log_disposition(session=session, user=user, task_id=claimed.task_id or 0,
                        claim_version=1, disposition="referred", minutes=5, notes="",
                        callback_at=None, lead=LeadInput("Ana", phone="+12125550142"),
                        now=NOW)
        revoke_consent(session=session, practice_slug="smile-ny", subject_type="patient",
                       subject_id="p9", source="inbound", now=NOW)
        session.commit()
        exported = export_operational_events(session=session)

    expected = _warehouse_tables()
    assert set(exported) == set(expected)
    for name, table in exported.items():
        assert [(f.name, f.type) for f in table.schema] == expected[name], name
    assert exported["ops_tasks"].num_rows == 3  # ask, the other ask, the new contact_lead
    statuses = dict(zip(exported["ops_tasks"]["task_id"].to_pylist(),
                        exported["ops_tasks"]["status"].to_pylist(), strict=True))
    assert statuses[ask.task_id] == "done" and sorted(statuses.values()) == [
        "cancelled", "done", "open"]
    assert exported["ops_touches"]["disposition"].to_pylist() == ["referred"]
    assert exported["ops_leads"]["source"].to_pylist() == ["coordinator"]
    assert exported["ops_consent_events"].num_rows == 3
    # The warehouse can load these tables as they are.
    warehouse = duckdb.connect(":memory:")
    warehouse.execute(SCHEMA_SQL.read_text())
    for name, table in exported.items():
        warehouse.register("incoming", table)
        warehouse.execute(f"insert into {name} select * from incoming")
        warehouse.unregister("incoming")
    assert warehouse.execute("select count(*) from ops_touches").fetchone() == (1,)


def test_practice_calendars_carry_each_practice_open_days_and_sla_lengths(
    loopdesk_home: Path,
) -> None:
    """The build gets every practice's own calendar; an unchanged practice gets DOMAIN.md's."""
    with session_for(sqlite_engine(loopdesk_home)) as session:
        add_practice(session, "weekdays")
        add_practice(session, "saturdays", business_days="23456", lead_sla_business_days=2,
                     close_loop_sla_business_days=3)
        calendars = practice_calendars(session=session)
    assert calendars == {
        "weekdays": PracticeCalendar(),
        "saturdays": PracticeCalendar(business_days="23456", lead_sla_business_days=2,
                                      close_loop_sla_business_days=3),
    }
    assert PracticeCalendar() == PracticeCalendar("12345", 1, 2)

"""Model discovery, dependency ordering and materialisation."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from warehouse.rules import PracticeCalendar, sla_day_rows
from warehouse.runner import (
    LAYERS,
    BuildParams,
    Model,
    ModelError,
    ModelFailed,
    ModelRun,
    create_build_params,
    declared_key,
    discover_models,
    order_models,
    references,
    run_models,
)
from warehouse.snapshot import publish_snapshot, reading_snapshot

REQUIRED = {
    "stg_canonical__practices", "stg_canonical__patients", "stg_canonical__treatments",
    "stg_canonical__referrals", "stg_ops__tasks", "stg_ops__touches", "stg_ops__leads",
    "stg_ops__lead_events", "stg_ops__consent_events", "stg_ops__messages",
    "int_treatments_results_visible", "int_patient_contactability", "int_leads_outcomes",
    "int_asks", "mart_practices", "mart_patients", "mart_treatments", "mart_leads",
    "mart_ask_candidates", "mart_practice_rates", "mart_review_candidates", "mart_data_quality",
    "mart_quarantine", "mart_feed_status",
}


def test_discovers_every_model_in_its_layer() -> None:
    """All required models are found, each in the layer its prefix names."""
    models = {model.name: model for model in discover_models()}
    assert set(models) >= REQUIRED
    prefix = {"staging": "stg_", "intermediate": "int_", "marts": "mart_"}
    for model in models.values():
        assert model.name.startswith(prefix[model.layer])


def test_order_follows_references_not_file_names() -> None:
    """mart_a reads mart_b, so mart_b runs first although it sorts later."""
    models = [
        Model(name="mart_a", layer="marts", sql="select * from mart_b"),
        Model(name="mart_b", layer="marts", sql="select * from stg_x"),
        Model(name="stg_x", layer="staging", sql="select 1 as id"),
    ]
    assert [m.name for m in order_models(models)] == ["stg_x", "mart_b", "mart_a"]


def test_references_ignore_comments_prefixes_and_schemas() -> None:
    """A name in a comment, a longer name, or raw.<name> is not a dependency."""
    model = Model(
        name="mart_a",
        layer="marts",
        sql="-- reads mart_b later\nselect * from mart_b_daily join raw.mart_c using (id)",
    )
    assert references(model, ["mart_b", "mart_b_daily", "mart_c"]) == {"mart_b_daily"}


def test_cycles_and_upward_reads_are_refused() -> None:
    """A cycle, or a staging model reading a mart, cannot be ordered."""
    cycle = [
        Model(name="mart_a", layer="marts", sql="select * from mart_b"),
        Model(name="mart_b", layer="marts", sql="select * from mart_a"),
    ]
    with pytest.raises(ModelError, match="cycle"):
        order_models(cycle)
    upward = [
        Model(name="stg_a", layer="staging", sql="select * from mart_b"),
        Model(name="mart_b", layer="marts", sql="select 1 as x"),
    ]
    with pytest.raises(ModelError, match="may not read"):
        order_models(upward)


def test_declared_key_line() -> None:
    """The `-- key:` header declares the key columns."""
    assert declared_key("-- grain: x\n-- key: practice_slug, lead_id\nselect 1") == (
        "practice_slug",
        "lead_id",
    )
    assert declared_key("select 1") == ()


def test_every_model_opens_with_its_grain() -> None:
    """Each model's first line states its grain in the house format (`-- grain: one row per …`)."""
    missing = [
        model.name for model in discover_models()
        if not model.sql.startswith("-- grain: one row per ")
    ]
    assert missing == []


def test_run_models_materialises_tables_and_names_a_failing_model() -> None:
    """Each model becomes a table with its row count; a failing model is named in the error."""
    conn = duckdb.connect()
    runs = run_models(
        conn,
        [
            Model(name="stg_x", layer="staging", sql="select * from range(3) t(id);"),
            Model(name="mart_y", layer="marts", sql="select id * 2 as id from stg_x"),
        ],
    )
    assert [(run.name, run.rows) for run in runs] == [("stg_x", 3), ("mart_y", 3)]
    assert conn.execute("select sum(id) from mart_y").fetchone() == (6,)
    with pytest.raises(ModelFailed, match="mart_bad"):
        run_models(conn, [Model(name="mart_bad", layer="marts", sql="select * from nowhere")])
    assert LAYERS == ("staging", "intermediate", "marts")


def test_ephemeral_models_feed_later_models_but_are_not_published(loopdesk_home: Path) -> None:
    """An ephemeral model is readable during the build and absent from the published snapshot."""
    models = [
        Model(name="stg_tmp", layer="staging", sql="select 1 as id", materialized="ephemeral"),
        Model(name="mart_kept", layer="marts", sql="select id + 1 as id from stg_tmp"),
    ]
    result = publish_snapshot(as_of=datetime(2026, 11, 26, tzinfo=UTC), models=models, checks=[])
    assert [(run.name, run.persisted) for run in result.models] == [
        ("stg_tmp", False),
        ("mart_kept", True),
    ]
    with reading_snapshot() as conn:
        assert conn.execute("select id from mart_kept").fetchall() == [(2,)]
        listed = conn.execute("select table_name from duckdb_tables()").fetchall()
    tables = {row[0] for row in listed}
    assert "stg_tmp" not in tables


def test_temp_tables_are_dropped_once_no_later_model_reads_them() -> None:
    """With `keep`, an ephemeral model's temp table goes as soon as the last model reading it
    (directly or through a view) has run; one the checks read (`keep`) stays."""
    ephemeral = "ephemeral"
    models = [
        Model(name="stg_a", layer="staging", sql="select 1 as id", materialized=ephemeral),
        Model(name="stg_b", layer="staging", sql="select 2 as id", materialized=ephemeral),
        Model(name="stg_c", layer="staging", sql="select 3 as id", materialized=ephemeral),
        Model(name="int_v", layer="intermediate", sql="select * from stg_a", materialized="view"),
        Model(name="mart_early", layer="marts", sql="select id from stg_b"),
        Model(
            name="mart_late",
            layer="marts",
            sql="select mart_early.id as b, int_v.id as a, stg_c.id as c "
            "from mart_early, int_v, stg_c",
        ),
    ]
    present: dict[str, set[str]] = {}
    conn = duckdb.connect()

    def temp_tables(run: ModelRun) -> None:
        listed = conn.execute("select table_name from duckdb_tables() where temporary").fetchall()
        present[run.name] = {row[0] for row in listed}

    run_models(conn, models, after_model=temp_tables, keep={"stg_c"})
    assert present["mart_early"] == {"stg_a", "stg_b", "stg_c"}  # dropped after the hook
    assert conn.execute("select * from mart_late").fetchall() == [(2, 1, 3)]
    listed = conn.execute("select table_name from duckdb_tables() where temporary").fetchall()
    assert {row[0] for row in listed} == {"stg_c"}  # stg_a (read via int_v) and stg_b gone
    again = duckdb.connect()
    run_models(again, models)  # no `keep`: nothing dropped
    listed = again.execute("select table_name from duckdb_tables() where temporary").fetchall()
    assert {row[0] for row in listed} == {"stg_a", "stg_b", "stg_c"}


def test_references_follow_the_model_text_not_an_earlier_answer() -> None:
    """`references` is worked out once per text: a changed text gets its own answer."""
    from warehouse.runner import Model, references

    names = ["stg_a", "stg_b", "mart_c"]
    first = Model(name="mart_c", layer="marts", sql="select * from stg_a -- stg_b")
    assert references(first, names) == {"stg_a"}
    changed = Model(name="mart_c", layer="marts", sql="select * from stg_b")
    assert references(changed, names) == {"stg_b"}
    assert references(first, iter(names)) == {"stg_a"}  # any iterable of names
    found = references(first, names)
    found.add("mutated")  # a caller's set is its own
    assert references(first, names) == {"stg_a"}


def test_build_sla_days_holds_every_calendars_rows_with_their_types() -> None:
    """`build_sla_days` is the default calendar's seven rows then each practice's, as
    `rules.sla_day_rows` gives them (written as one table, no longer a statement per row)."""
    calendars = {
        "p-weekend": PracticeCalendar(business_days="1234567", lead_sla_business_days=2),
        "p-four-days": PracticeCalendar(business_days="1234", close_loop_sla_business_days=5),
    }
    conn = duckdb.connect()
    create_build_params(conn, BuildParams(as_of=datetime(2026, 12, 3, tzinfo=UTC),
                                          build_id="b", calendars=calendars))
    written = conn.execute(
        "select practice_slug, iso_weekday, contact_days, loop_days from build_sla_days "
        "order by practice_slug nulls first, iso_weekday").fetchall()
    assert written == sla_day_rows(calendars)
    assert len(written) == 21
    types = dict(conn.execute("select column_name, data_type from information_schema.columns "
                              "where table_name = 'build_sla_days'").fetchall())
    assert types == {"practice_slug": "VARCHAR", "iso_weekday": "INTEGER",
                     "contact_days": "INTEGER", "loop_days": "INTEGER"}


def test_build_params_are_written_without_importing_pandas() -> None:
    """A `loopdesk build` after a one-practice drop runs in a fresh process: writing
    `build_sla_days` through a registered Arrow table made DuckDB import pandas there
    (~0.2-0.4 s of a ~1.5 s build)."""
    code = (
        "import sys\n"
        "from datetime import UTC, datetime\n"
        "import duckdb\n"
        "from warehouse.runner import BuildParams, create_build_params\n"
        "params = BuildParams(as_of=datetime.now(UTC), build_id='b')\n"
        "create_build_params(duckdb.connect(), params)\n"
        "print(sorted(m for m in ('pandas', 'pyarrow') if m in sys.modules))\n"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, cwd=Path(__file__).resolve().parents[2])
    assert found.stdout.strip() == "[]"

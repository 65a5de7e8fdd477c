"""The one task projection: every candidate kind yields TASK_COLUMNS, in order, same types."""

from __future__ import annotations

import polars as pl
import pytest

from console.models.work import TaskKind
from console.work.sources import TASK_COLUMNS, as_tasks


def test_a_projection_gives_every_task_column_with_typed_nulls() -> None:
    frame = pl.DataFrame({"slug": ["smile-ny"], "lead": ["l-1"], "value": [900.0]})
    tasks = as_tasks(frame, kind=TaskKind.contact_lead, subject_type="lead",
                     natural_key=pl.format("contact_lead:{}:{}", "slug", "lead"),
                     practice_slug="slug", subject_id="lead", lead_id="lead",
                     case_value="value", consent_call=pl.lit(True),
                     do_not_contact=pl.lit(False), due_at="value", sla_deadline="value",
                     decay_from="value")
    assert tuple(tasks.columns) == TASK_COLUMNS
    row = tasks.row(0, named=True)
    assert (row["natural_key"], row["kind"], row["subject_type"]) == (
        "contact_lead:smile-ny:l-1", "contact_lead", "lead")
    assert row["patient_id"] is None and tasks.schema["patient_id"] == pl.String
    assert tasks.schema["satisfaction_score"] == pl.Float64


def test_a_projection_refuses_a_column_that_is_not_a_task_column() -> None:
    with pytest.raises(ValueError, match="not task columns"):
        as_tasks(pl.DataFrame({"a": [1]}), kind=TaskKind.ask, subject_type="patient", a="a")


def test_a_required_column_left_out_is_an_error() -> None:
    with pytest.raises(KeyError):
        as_tasks(pl.DataFrame({"a": [1]}), kind=TaskKind.ask, subject_type="patient")

"""The scalar one-task scores (console.work.rows, no polars) equal refresh's vectorised ones."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from console.models.practice import PracticeSettings
from console.models.work import Task
from console.work.refresh import add_task_vectorised, p_success_vectorised
from console.work.rows import TASK_COLUMNS, rescore, score_fields

KINDS = ("ask", "follow_up", "contact_lead", "close_loop", "review_request")
MOMENTS = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2040, 1, 1),
                       timezones=st.just(UTC))
MONEY = st.one_of(st.none(), st.floats(min_value=0.0, max_value=250_000.0))
RATE = st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.0))


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(KINDS), lead=st.booleans(), attempt=st.integers(1, 6),
       satisfaction=st.one_of(st.none(), st.floats(min_value=0, max_value=10)),
       case_value=MONEY, avg=MONEY, conversion=RATE, p_refer=RATE, decay_from=MOMENTS,
       carried=st.one_of(st.none(), st.tuples(st.floats(1.0, 50_000.0), st.floats(1.0, 60.0))))
def test_one_task_scores_like_refresh(kind: str, lead: bool, attempt: int,
                                      satisfaction: float | None, case_value: float | None,
                                      avg: float | None, conversion: float | None,
                                      p_refer: float | None, decay_from: datetime,
                                      carried: tuple[float, float] | None) -> None:
    practice = PracticeSettings(practice_slug="p", name="P", specialty="dental",
                                timezone="America/Chicago", avg_case_value=avg,
                                lead_conversion=conversion, p_refer_given_asked=p_refer)
    fields: dict[str, Any] = {name: None for name in TASK_COLUMNS} | {
        "natural_key": "k", "kind": kind, "practice_slug": "p",
        "subject_type": "lead" if lead else "patient", "subject_id": "s",
        "case_value": case_value, "satisfaction_score": satisfaction, "consent_call": True,
        "do_not_contact": False, "due_at": decay_from, "sla_deadline": decay_from + timedelta(1),
        "decay_from": decay_from, "attempt": attempt,
    }
    value, minutes = carried if carried is not None else (None, None)
    scalar = score_fields(fields, practice, value=value, expected_minutes=minutes)
    vector = add_task_vectorised(fields=fields, practice=practice, value=value,
                                 expected_minutes=minutes)
    for name in ("case_value", "value", "p_success", "expected_minutes", "rank_key"):
        assert _close(float(scalar[name]), float(vector[name])), (name, scalar[name], vector[name])
    assert scalar["practice_tz"] == vector["practice_tz"]
    assert scalar["attempt"] == vector["attempt"]

    task = Task(**scalar)
    task.attempt += 1
    rescore(task)
    assert _close(task.p_success, p_success_vectorised(task))

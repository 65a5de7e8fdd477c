"""Refresh decides by values, never by the row order its joins happened to produce.

Both choices below once depended on it (the simulator's same seed gave two figures): a
patient with two review candidates (a review's case value is its practice's average, equal
for all of the patient's treatments) got one or the other, and a lead whose call wrote two
events at the same instant took either as its latest status.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import polars as pl

from console.work.refresh import one_per_person
from console.work.sources import OpsFacts, effective_leads

AT = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)
UTC_US = pl.Datetime("us", "UTC")


def _candidates(rows: list[tuple[str, str, float | None, datetime | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        [("review_request", "lakeshore", "P1", key, value, due) for key, _, value, due in rows],
        schema={"kind": pl.String, "practice_slug": pl.String, "subject_id": pl.String,
                "natural_key": pl.String, "case_value": pl.Float64, "due_at": UTC_US},
        orient="row",
    )


def test_the_pick_per_person_is_the_same_whatever_the_row_order() -> None:
    rows = [
        ("review_request:lakeshore:P1:T1", "", 4200.0, AT - timedelta(days=9)),
        ("review_request:lakeshore:P1:T2", "", 4200.0, AT - timedelta(days=2)),
        ("review_request:lakeshore:P1:T3", "", 4200.0, AT - timedelta(days=5)),
    ]
    picks = {one_per_person(_candidates(list(order)))["natural_key"].to_list()[0]
             for order in itertools.permutations(rows)}
    # Equal case values: the latest trigger, in every order.
    assert picks == {"review_request:lakeshore:P1:T2"}


def test_the_highest_case_value_wins_then_the_key_breaks_a_full_tie() -> None:
    rows = [
        ("ask:lakeshore:T1", "", 900.0, AT),
        ("ask:lakeshore:T2", "", 5000.0, AT - timedelta(days=30)),
        ("ask:lakeshore:T3", "", None, AT + timedelta(days=1)),
    ]
    for order in itertools.permutations(rows):
        assert one_per_person(_candidates(list(order)))["natural_key"].to_list() == [
            "ask:lakeshore:T2"]
    tied = [("ask:lakeshore:T9", "", 900.0, AT), ("ask:lakeshore:T4", "", 900.0, AT)]
    for order in itertools.permutations(tied):
        assert one_per_person(_candidates(list(order)))["natural_key"].to_list() == [
            "ask:lakeshore:T4"]


def test_one_candidate_per_kind_and_person_is_kept() -> None:
    frame = pl.concat([
        _candidates([("review_request:lakeshore:P1:T1", "", 1.0, AT)]),
        _candidates([("review_request:lakeshore:P1:T2", "", 1.0, AT)]).with_columns(
            subject_id=pl.lit("P2")),
    ])
    assert sorted(one_per_person(frame)["subject_id"].to_list()) == ["P1", "P2"]


def _facts(events: list[tuple[str, datetime, int]]) -> OpsFacts:
    empty = pl.DataFrame()
    leads = pl.DataFrame(
        [("lakeshore", "L-1", "P1", "(312) 555-0100", AT - timedelta(hours=3), "new", None,
          None, None)],
        schema={"practice_slug": pl.String, "lead_id": pl.String,
                "referrer_patient_id": pl.String, "lead_phone": pl.String,
                "referred_at": UTC_US, "status": pl.String, "status_at": UTC_US,
                "first_reached_at": UTC_US, "loop_closed_at": UTC_US},
        orient="row",
    )
    frame = pl.DataFrame(
        [("lakeshore", "L-1", event, at, event_id) for event, at, event_id in events],
        schema={"practice_slug": pl.String, "lead_id": pl.String, "event": pl.String,
                "at": UTC_US, "event_id": pl.Int64},
        orient="row",
    )
    return OpsFacts(touches=empty, revoked=empty, leads=leads, lead_events=frame,
                    reviews=empty, willing=empty)


def test_a_leads_latest_status_is_its_last_write_when_two_share_an_instant() -> None:
    events = [("contacted", AT - timedelta(hours=1), 7), ("contacted", AT, 8), ("booked", AT, 9)]
    mart = _facts([]).leads.clear()
    for order in itertools.permutations(events):
        leads = effective_leads(mart_leads=mart, facts=_facts(list(order)))
        assert leads.select("status", "status_at").row(0) == ("booked", AT)

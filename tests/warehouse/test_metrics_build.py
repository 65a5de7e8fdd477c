"""The metric marts inside B's real build: raw rows → published snapshot → compute_metrics."""

from __future__ import annotations

from pathlib import Path

from tests.warehouse import rawdata as rd
from tests.warehouse.test_metrics_world import full_rate
from warehouse.metrics import compute_metrics
from warehouse.scope import Scope
from warehouse.snapshot import publish_snapshot, reading_snapshot


def test_metrics_through_a_published_snapshot(loopdesk_home: Path) -> None:
    """As of 2026-11-26 (period 2025-11-01..2026-10-31): pat1 and pat2 see results ~100/90 days
    ago; both are called within 30 d (pat1 refers on the call, pat2 no answer). pat1's lead books
    for $5,000 15 days later. ask 2/2, reach 1/2, willing 1/1, referral 1/2, conversion 1/1."""
    with rd.raw_store() as conn:
        rd.practice(conn)
        rd.patient(conn, "pat1")
        rd.patient(conn, "pat2")
        rd.treatment(conn, "t1", "pat1", completed_at=rd.days_ago(114),
                     results_visible_at=rd.days_ago(100))
        rd.treatment(conn, "t2", "pat2", completed_at=rd.days_ago(104),
                     results_visible_at=rd.days_ago(90))
        rd.referral(conn, "L1", "pat1", referred_at=rd.days_ago(95), status="booked",
                    status_at=rd.days_ago(80), booked_value=5000.0)
    touches = rd.ops_table(
        "ops_touches",
        [
            rd.call_touch(1, "pat1", disposition="referred", at=rd.days_ago(95)),
            rd.call_touch(2, "pat2", disposition="no_answer", at=rd.days_ago(85)),
        ],
    )
    publish_snapshot(as_of=rd.AS_OF, ops_events={"ops_touches": touches})
    with reading_snapshot() as conn:
        result = compute_metrics(conn, scope=Scope.agency(), practice_slug="p1")
    (row,) = result["practices"]
    assert result["period"] == {"from": "2025-11-01", "to": "2026-10-31"}
    assert row["ask_rate"] == 1.0
    assert row["reach_rate"] == 0.5
    assert row["willingness_rate"] == 1.0
    assert full_rate(row, "referral_rate") == {"value": 0.5, "numerator": 1, "denominator": 2}
    assert row["lead_conversion_rate"] == 1.0
    assert row["referred_revenue"] == 5000.0
    assert row["counts"]["hours_total"] == 10 / 60

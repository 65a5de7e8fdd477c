"""The report's headline table reads the flat metric block: value from the key, counts beside."""

from __future__ import annotations

from console.views.report import metrics_table
from warehouse.metrics import _COUNT_FIELDS
from warehouse.metrics_block import metric_block


def test_metrics_table_rows_from_a_flat_block() -> None:
    """Referral 1/4 = 25%, reach undefined (nobody asked), $5,000 from 1 lead, 3 h over 2 weeks."""
    counts = dict.fromkeys(_COUNT_FIELDS, 0.0)
    counts.update(cohort_patients=4, referred=1, leads=2, leads_converted_90d=1,
                  referred_revenue=5000.0, minutes_logged=180.0, contracted_hours_per_week=10.0)
    rows = {row["metric"]: row for row in metrics_table(metric_block(counts, weeks=2.0))}
    assert rows["Referral rate"] == {"metric": "Referral rate", "value": "25%", "counts": "1 / 4"}
    assert rows["Reach rate"]["value"] == "—" and rows["Reach rate"]["counts"] == "0 / 0"
    assert rows["Lead conversion"]["value"] == "50%"
    assert rows["Referred revenue"] == {
        "metric": "Referred revenue", "value": "$5,000", "counts": "1 converted leads"
    }
    assert rows["Hours delivered per week"]["value"] == "1.5"
    assert rows["Hours delivered per week"]["counts"] == "contracted 10 h/week"

"""The metrics JSON contract on a generated world: each DOMAIN.md metric is a number or null."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from console.cli import app
from tests.conftest import FIXED_NOW
from tests.worlds import build_generated_world, point_at_home
from warehouse.metrics_base import TASK_KINDS
from warehouse.metrics_block import RATE_COUNTS, RATE_KEYS, sla_counts

NOW = datetime.fromisoformat(FIXED_NOW)
# Every metric name of DOMAIN.md → Metrics, as a key of each practice and of the agency.
DOMAIN_METRICS = (
    "ask_rate", "reach_rate", "willingness_rate", "referral_rate", "intent_action_gap_pts",
    "lead_contact_sla_rate", "lead_conversion_rate", "loop_closure_rate", "referred_revenue",
    "repeat_referral_rate", "sla_compliance", "hours_delivered",
)


@dataclass
class Generated:
    """A built world (3 practices × 6 months, with the demo's console history) and its metrics."""

    home: Path
    metrics: dict[str, Any]




@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generated]:
    """Generate, ingest, build, simulate console history and rebuild, then compute metrics."""
    from console.demo.history import simulate_agency_history
    from console.lifecycle.build import build_everything
    from console.platform.db import get_engine, new_session
    from warehouse.metrics import compute_metrics
    from warehouse.scope import Scope
    from warehouse.snapshot import reading_snapshot

    root = tmp_path_factory.mktemp("metrics-shape")
    with pytest.MonkeyPatch.context() as patch:
        home = root / "home"
        point_at_home(patch, home)
        build_generated_world(root / "drop", practices=3, seed=5, months=6, now=NOW)
        # The console history gives asks, SLAs and hours real numerators, not only nulls.
        with reading_snapshot() as snapshot, new_session(get_engine()) as session:
            simulate_agency_history(session=session, snapshot=snapshot, now=NOW, seed=3)
        build_everything(now=NOW)
        with reading_snapshot() as snapshot:
            metrics = compute_metrics(snapshot, scope=Scope.agency())
        yield Generated(home=home, metrics=metrics)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _fraction_or_null(value: Any) -> bool:
    return value is None or (_is_number(value) and 0.0 <= value <= 1.0)


def _check_block(label: str, block: dict[str, Any]) -> None:
    """Every metric of one practice (or the agency) has the flat, documented shape."""
    assert set(DOMAIN_METRICS) <= set(block), label
    counts = block["counts"]
    for key in RATE_KEYS:
        assert _fraction_or_null(block[key]), (label, key, block[key])
        numerator, denominator = RATE_COUNTS[key]
        expected = counts[numerator] / counts[denominator] if counts[denominator] else None
        assert block[key] == (pytest.approx(expected) if expected is not None else None), (
            label, key)
    assert set(block["sla_compliance"]) == set(TASK_KINDS), label
    for kind, value in block["sla_compliance"].items():
        assert _fraction_or_null(value), (label, kind, value)
        _met, due = sla_counts(kind)
        assert (value is None) == (counts[due] == 0), (label, kind)
        assert block["open_breached"][kind] == counts[f"sla_open_breached__{kind}"], label
    gap = block["intent_action_gap_pts"]
    assert gap is None or (_is_number(gap) and -100.0 <= gap <= 100.0), (label, gap)
    assert _is_number(block["referred_revenue"]) and block["referred_revenue"] >= 0, label
    for key in ("hours_delivered", "hours_ratio_to_contract"):
        assert block[key] is None or (_is_number(block[key]) and block[key] >= 0), (label, key)
    assert _is_number(block["hours_contracted_per_week"]), label
    assert _is_number(counts["hours_total"]), label


def _check_document(document: dict[str, Any]) -> None:
    assert {"as_of", "period", "benchmarks", "practices", "agency"} <= set(document)
    assert len(document["practices"]) == 3
    for row in document["practices"]:
        _check_block(row["practice_slug"], row)
    _check_block("agency", document["agency"])


def test_every_rate_is_null_or_a_fraction(generated: Generated) -> None:
    """compute_metrics: each rate in [0, 1] or None, and equal to its counts' quotient."""
    _check_document(generated.metrics)


def test_the_world_is_not_all_nulls(generated: Generated) -> None:
    """The shape check above is meaningful: the agency has real figures for the core rates."""
    agency = generated.metrics["agency"]
    for key in ("ask_rate", "reach_rate", "referral_rate", "lead_conversion_rate"):
        assert agency[key] is not None, key
    assert agency["counts"]["hours_total"] > 0
    assert agency["hours_delivered"] is not None and agency["hours_delivered"] > 0


def test_cli_json_has_the_same_flat_shape(
    generated: Generated, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`loopdesk metrics --json` prints the same document, every rate a number or null."""
    point_at_home(monkeypatch, generated.home)
    result = CliRunner().invoke(app, ["metrics", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    _check_document(payload)
    assert payload == json.loads(json.dumps(generated.metrics))

"""The compounding forecast: DOMAIN.md's reference figures, edge inputs and measured rates."""

from __future__ import annotations

from datetime import date

import pytest

from tests.warehouse.test_metrics_world import World, at
from warehouse.forecast import forecast, practice_forecast
from warehouse.metrics import UnknownPractice
from warehouse.scope import Scope


def test_reference_case_compounding_at_40_percent() -> None:
    """P=100, r=0.4, c=1, 2 years: 40, then 40 + 40*0.4 = 56; total 96."""
    result = forecast(patients_per_year=100, referral_rate=0.4, years=2)
    assert result.by_year == pytest.approx([40.0, 56.0])
    assert result.total == pytest.approx(96.0)
    assert result.assumptions["compounding"] is True


def test_reference_case_ratios() -> None:
    """r=0.1 without compounding: 10 + 10 = 20 (96/20 = 4.8x); with compounding 10 + 11 = 21."""
    flat = forecast(patients_per_year=100, referral_rate=0.1, years=2, compounding=False)
    assert flat.by_year == pytest.approx([10.0, 10.0])
    assert flat.total == pytest.approx(20.0)
    systematic = forecast(patients_per_year=100, referral_rate=0.4, years=2)
    assert systematic.total / flat.total == pytest.approx(4.8)
    compounding = forecast(patients_per_year=100, referral_rate=0.1, years=2)
    assert compounding.total == pytest.approx(21.0)


def test_conversion_scales_each_generation() -> None:
    """P=100, r=0.5, c=0.5: R1 = 25, R2 = 25 + 25*0.25 = 31.25, R3 = 25 + 31.25*0.25 = 32.8125."""
    result = forecast(patients_per_year=100, referral_rate=0.5, conversion=0.5, years=3)
    assert result.by_year == pytest.approx([25.0, 31.25, 32.8125])


def test_edge_rates_zero_and_one() -> None:
    """r=0 gives nothing; r=1, c=1 grows linearly: P, 2P, 3P."""
    assert forecast(patients_per_year=50, referral_rate=0.0, years=3).total == 0.0
    assert forecast(patients_per_year=50, referral_rate=1.0, years=3).by_year == [50, 100, 150]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"years": 0}, "years"),
        ({"years": -1}, "years"),
        ({"referral_rate": -0.1}, "referral rate"),
        ({"referral_rate": 1.5}, "referral rate"),
        ({"conversion": 1.01}, "conversion"),
        ({"conversion": -1.0}, "conversion"),
        ({"patients_per_year": -5.0}, "patients"),
        ({"patients_per_year": float("nan")}, "patients"),
    ],
)
def test_bad_inputs_raise_clear_value_errors(kwargs: dict[str, float], message: str) -> None:
    """Each invalid input names itself in a ValueError."""
    args = {"patients_per_year": 100.0, "referral_rate": 0.4, "years": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        forecast(**args)  # type: ignore[arg-type]


def _measured_world() -> World:
    """p1 over the default period (2025-11-01..2026-10-31): 10 cohort patients, 2 referred ->
    r = 0.2; of their 2 leads 1 booked within 90 d -> c = 0.5."""
    world = World().practice("p1").practice("p2")
    for i in range(10):
        world.treatment("p1", f"t{i}", f"pt{i}", visible_at=at(i))
    world.lead("p1", "l1", "pt0", at(5), status="booked", outcome_at=at(20), booked_value=9000)
    world.lead("p1", "l2", "pt1", at(6), status="declined", outcome_at=at(20))
    return world


def test_practice_forecast_uses_measured_rates_and_states_assumptions() -> None:
    """P=10, r=0.2, c=0.5, 2 years compounding: R1 = 1, R2 = 1 + 0.1 = 1.1 (total 2.1). At the
    systematic 40%: R1 = 2, R2 = 2 + 2*0.2 = 2.4 (total 4.4); uplift 4.4/2.1."""
    conn = _measured_world().build()
    result = practice_forecast(conn, scope=Scope.of(["p1"]), practice_slug="p1")
    assumptions = result["assumptions"]
    assert assumptions["compounding"] is True
    assert assumptions["patients_per_year"] == 10
    assert assumptions["measured_referral_rate"] == pytest.approx(0.2)
    assert assumptions["measured_conversion"] == pytest.approx(0.5)
    assert assumptions["systematic_referral_rate"] == 0.4
    assert assumptions["measured_over"] == {"from": "2025-11-01", "to": "2026-10-31"}
    assert result["measured"]["by_year"] == pytest.approx([1.0, 1.1])
    assert result["systematic"]["total"] == pytest.approx(4.4)
    assert result["uplift_ratio"] == pytest.approx(4.4 / 2.1)
    assert date.fromisoformat(assumptions["measured_over"]["to"]) < date(2026, 11, 26)


def test_practice_forecast_without_measurements_and_outside_scope() -> None:
    """p2 has no cohort: no forecast, and the reason is stated; p1 is not p2's owner's to see."""
    conn = _measured_world().build()
    result = practice_forecast(conn, scope=Scope.agency(), practice_slug="p2")
    assert result["measured"] is None and "missing" in result["assumptions"]
    with pytest.raises(UnknownPractice):
        practice_forecast(conn, scope=Scope.of(["p2"]), practice_slug="p1")

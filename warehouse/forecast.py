"""The compounding referral forecast of DOMAIN.md, from given or measured rates."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import duckdb

from warehouse.metrics import compute_metrics
from warehouse.scope import Scope

SYSTEMATIC_REFERRAL_RATE = 0.40


@dataclass(frozen=True)
class Forecast:
    """Referred patients per year, their total, and the assumptions that produced them."""

    by_year: list[float]
    total: float
    assumptions: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The stable JSON shape: by_year, total, assumptions."""
        return {"by_year": list(self.by_year), "total": self.total, "assumptions": self.assumptions}


def _check_fraction(name: str, value: float) -> None:
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {value}")


def forecast(
    *,
    patients_per_year: float,
    referral_rate: float,
    conversion: float = 1.0,
    years: int,
    compounding: bool = True,
) -> Forecast:
    """Referred patients per year: R_1 = P·r·c, compounding adds R_{y-1}·r·c (they refer too)."""
    if not math.isfinite(patients_per_year) or patients_per_year < 0:
        raise ValueError(f"patients per year must be zero or more, got {patients_per_year}")
    _check_fraction("referral rate", referral_rate)
    _check_fraction("conversion", conversion)
    if years < 1:
        raise ValueError(f"years must be at least 1, got {years}")
    yield_per_patient = referral_rate * conversion
    base = patients_per_year * yield_per_patient
    by_year: list[float] = []
    previous = 0.0
    for _ in range(years):
        current = base + previous * yield_per_patient if compounding else base
        by_year.append(current)
        previous = current
    return Forecast(
        by_year=by_year,
        total=sum(by_year),
        assumptions={
            "patients_per_year": patients_per_year,
            "referral_rate": referral_rate,
            "conversion": conversion,
            "years": years,
            "compounding": compounding,
            "formula": (
                "R_1 = P*r*c; R_y = P*r*c + R_(y-1)*r*c"
                if compounding
                else "R_y = P*r*c every year"
            ),
        },
    )


def practice_forecast(
    conn: duckdb.DuckDBPyConnection, *, scope: Scope, practice_slug: str, years: int = 2
) -> dict[str, Any]:
    """The forecast at the practice's measured referral rate and conversion vs. a systematic 40%."""
    measured = compute_metrics(conn, scope=scope, practice_slug=practice_slug)
    (row,) = measured["practices"]
    patients = float(row["cohort_patients"])
    r = row["referral_rate"]
    c = row["lead_conversion_rate"]
    assumptions: dict[str, Any] = {
        "compounding": True,
        "years": years,
        "patients_per_year": patients,
        "measured_referral_rate": r,
        "measured_conversion": c,
        "systematic_referral_rate": SYSTEMATIC_REFERRAL_RATE,
        "measured_over": measured["period"],
        "notes": (
            "patients per year = cohort patients (results visible) in the period; r = referral "
            "rate; c = lead conversion within 90 d; compounding on both sides"
        ),
    }
    if r is None or c is None:
        assumptions["missing"] = "no measured referral rate or conversion for this period"
        return {
            "practice_slug": practice_slug,
            "assumptions": assumptions,
            "measured": None,
            "systematic": None,
            "uplift_ratio": None,
        }
    at_measured = forecast(patients_per_year=patients, referral_rate=r, conversion=c, years=years)
    at_systematic = forecast(
        patients_per_year=patients,
        referral_rate=SYSTEMATIC_REFERRAL_RATE,
        conversion=c,
        years=years,
    )
    return {
        "practice_slug": practice_slug,
        "assumptions": assumptions,
        "measured": at_measured.as_dict(),
        "systematic": at_systematic.as_dict(),
        "uplift_ratio": at_systematic.total / at_measured.total if at_measured.total else None,
    }

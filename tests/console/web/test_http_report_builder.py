"""The real report builder behind /api/v1/report: scope first, clear errors without data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import Enum
from pathlib import Path

import pytest

from console.platform.errors import NotAuthorised
from console.reporting.reports import (
    ReportUnavailable,
    assemble_report,
    build_practice_report,
    jsonable,
)
from tests.console.access_helpers import NOW
from warehouse.scope import Scope


def test_out_of_scope_practice_is_refused_before_any_read(loopdesk_home: Path) -> None:
    with pytest.raises(NotAuthorised):
        build_practice_report(practice_slug="beta", scope=Scope.of(["alpha"]), now=NOW)


def test_no_snapshot_is_unavailable(loopdesk_home: Path) -> None:
    with pytest.raises(ReportUnavailable):
        build_practice_report(practice_slug="alpha", scope=Scope.of(["alpha"]), now=NOW)


class Colour(Enum):
    red = "red"


@dataclass
class Point:
    day: date
    amount: Decimal


def test_jsonable_makes_values_json_safe() -> None:
    value = {"p": Point(date(2026, 1, 2), Decimal("1.5")), "c": Colour.red, "x": float("nan")}
    assert jsonable(value) == {"p": {"day": "2026-01-02", "amount": 1.5}, "c": "red", "x": None}


def test_envelope_names_the_practice_and_time() -> None:
    report = assemble_report(practice_slug="alpha", now=NOW, metrics={"a": 1}, forecast=None)
    assert report["practice_slug"] == "alpha"
    assert report["generated_at"] == "2026-11-26T15:00:00+00:00"
    assert report["metrics"] == {"a": 1}

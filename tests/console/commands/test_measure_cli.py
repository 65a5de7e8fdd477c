"""`loopdesk metrics` and `loopdesk forecast` through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

import warehouse.snapshot
from console.cli import app
from tests.warehouse.test_metrics_world import T0, World, at, full_rate

runner = CliRunner()


def test_forecast_json_reference_case() -> None:
    """P=100, r=0.4, 2 years compounding -> by_year [40, 56], total 96."""
    result = runner.invoke(
        app,
        ["forecast", "--patients-per-year", "100", "--referral-rate", "0.4", "--years", "2",
         "--json"],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["by_year"] == pytest.approx([40.0, 56.0])
    assert payload["total"] == pytest.approx(96.0)
    assert payload["assumptions"]["compounding"] is True


def test_forecast_without_compounding_and_with_conversion() -> None:
    """P=100, r=0.1, c=0.5, no compounding, 2 years -> 5 + 5 = 10."""
    result = runner.invoke(
        app,
        ["forecast", "--patients-per-year", "100", "--referral-rate", "0.1", "--conversion",
         "0.5", "--years", "2", "--no-compounding", "--json"],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["total"] == pytest.approx(10.0)
    assert payload["assumptions"]["compounding"] is False


def test_forecast_readable_output() -> None:
    """Without --json it prints one line per year and the total."""
    result = runner.invoke(
        app, ["forecast", "--patients-per-year", "100", "--referral-rate", "0.4", "--years", "2"]
    )
    assert result.exit_code == 0
    assert "year 2: 56.00" in result.stdout and "total: 96.00" in result.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--referral-rate", "1.5", "--years", "2"], "referral rate"),
        (["--referral-rate", "-0.1", "--years", "2"], "referral rate"),
        (["--referral-rate", "0.4", "--years", "0"], "years"),
        (["--referral-rate", "0.4", "--years", "2", "--conversion", "2"], "conversion"),
    ],
)
def test_forecast_bad_input_is_a_one_line_error(args: list[str], fragment: str) -> None:
    """Invalid inputs exit 2 with one line on stderr and no traceback."""
    result = runner.invoke(app, ["forecast", "--patients-per-year", "100", *args])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


@pytest.fixture
def literal_snapshot(monkeypatch: pytest.MonkeyPatch, loopdesk_home: Path) -> None:
    """`open_snapshot()` returns a literal warehouse: p1 with 2 cohort patients, 1 referred."""
    world = World().practice("p1").practice("p2")
    world.treatment("p1", "t1", "a", visible_at=T0)
    world.treatment("p1", "t2", "b", visible_at=T0)
    world.lead("p1", "l1", "a", at(3))

    def fake_open() -> duckdb.DuckDBPyConnection:
        return world.build()

    monkeypatch.setattr(warehouse.snapshot, "open_snapshot", fake_open)


@pytest.mark.usefixtures("literal_snapshot")
def test_metrics_json_for_one_practice_and_period() -> None:
    """--practice p1 --from 2026-03-01 --to 2026-03-31: referral 1/2 with the period echoed."""
    result = runner.invoke(
        app, ["metrics", "--practice", "p1", "--from", "2026-03-01", "--to", "2026-03-31", "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["period"] == {"from": "2026-03-01", "to": "2026-03-31"}
    assert [p["practice_slug"] for p in payload["practices"]] == ["p1"]
    assert full_rate(payload["practices"][0], "referral_rate") == {
        "value": 0.5, "numerator": 1, "denominator": 2
    }
    assert payload["agency"]["referral_rate"] == 0.5


@pytest.mark.usefixtures("literal_snapshot")
def test_metrics_table_shows_undefined_rates_as_dash() -> None:
    """The readable table lists every practice, the agency row, and — for p2's empty rates."""
    result = runner.invoke(app, ["metrics", "--from", "2026-03-01", "--to", "2026-03-31"])
    assert result.exit_code == 0, result.output
    assert "p1" in result.stdout and "p2" in result.stdout and "agency" in result.stdout
    assert "50.0%" in result.stdout and "—" in result.stdout


@pytest.mark.usefixtures("literal_snapshot")
@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--practice", "nope"], "unknown practice 'nope'"),
        (["--from", "2026-02-30", "--to", "2026-03-31"], "--from must be a date"),
        (["--from", "2026-04-01", "--to", "2026-03-31"], "is after --to"),
        (["--from", "2027-01-01"], "after it ends"),
    ],
)
def test_metrics_user_mistakes_are_one_line_errors(args: list[str], fragment: str) -> None:
    """Unknown practice, a bad date or a reversed period: exit 2, one line on stderr."""
    result = runner.invoke(app, ["metrics", *args])
    assert result.exit_code == 2
    assert fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_metrics_without_a_snapshot_says_to_build(loopdesk_home: Path) -> None:
    """Before the first build: a one-line error naming `loopdesk build`, exit 2."""
    result = runner.invoke(app, ["metrics", "--json"])
    assert result.exit_code == 2
    assert "loopdesk build" in result.stderr
    assert result.stdout == ""

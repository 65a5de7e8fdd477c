"""CLI commands of the measurement area: `metrics` and `forecast`."""

from __future__ import annotations

import math
from datetime import date
from typing import Any, NoReturn

import typer

from console.commands.output import emit_json, fail

# warehouse (DuckDB, polars) and rich's tables are imported inside the commands that use them.

UNDEFINED = "—"
# A forecast is a planning aid; beyond this many years it only costs memory.
MAX_FORECAST_YEARS = 100


def _error(message: str) -> NoReturn:
    """One-line error on stderr, exit code 2."""
    fail(message)
    raise SystemExit(2)  # fail() already exited; this line tells the type checker so


def _parse_day(value: str | None, option: str) -> date | None:
    """An ISO date from the command line, or a one-line error."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        _error(f"{option} must be a date like 2026-01-31, got {value!r}")


def _pct(value: float | None) -> str:
    return UNDEFINED if value is None else f"{100 * value:.1f}%"


def _num(value: float | None, fmt: str = "{:,.1f}") -> str:
    return UNDEFINED if value is None else fmt.format(value)


def _table_row(label: str, m: dict[str, Any]) -> list[str]:
    return [
        label,
        str(m["cohort_patients"]),
        _pct(m["ask_rate"]),
        _pct(m["reach_rate"]),
        _pct(m["willingness_rate"]),
        _pct(m["referral_rate"]),
        _num(m["intent_action_gap_pts"]),
        _pct(m["lead_contact_sla_rate"]),
        _pct(m["lead_conversion_rate"]),
        _pct(m["loop_closure_rate"]),
        _num(m["referred_revenue"], "${:,.0f}"),
        _pct(m["repeat_referral_rate"]),
        f"{_num(m['hours_delivered'])} / {_num(m['hours_contracted_per_week'])}",
    ]


def _print_metrics(result: dict[str, Any]) -> None:
    """The metrics as a readable table: one row per practice, then the agency roll-up."""
    from rich.console import Console
    from rich.table import Table

    period = result["period"]
    table = Table(
        title=f"Referral metrics {period['from']} .. {period['to']} (as of {result['as_of']})"
    )
    for header in (
        "practice", "cohort", "asked", "reached", "willing", "referral", "gap pts",
        "lead SLA", "conversion", "loop closed", "revenue", "repeat", "h/wk vs contract",
    ):
        table.add_column(header, justify="left" if header == "practice" else "right")
    for row in result["practices"]:
        table.add_row(*_table_row(row["practice_slug"], row))
    table.add_section()
    table.add_row(*_table_row(f"agency ({result['agency']['practices']})", result["agency"]))
    # Thirteen columns need ~170 characters; narrower consoles (and pipes, 80 by default) would
    # wrap every cell into unreadable slivers, so long lines are the lesser evil.
    console = Console()
    console.width = max(console.width, 170)
    console.print(table)
    from warehouse import rules

    typer.echo(f"— = undefined (empty denominator). Benchmarks: willing "
               f"{rules.WILLINGNESS_BENCHMARK:.0%}, referral {rules.REFERRAL_RATE_TYPICAL:.0%} "
               f"typical, {rules.REFERRAL_RATE_SYSTEMATIC:.0%} systematic.")


def register(app: typer.Typer) -> None:
    """Add `metrics` and `forecast` to the `loopdesk` app."""

    @app.command("metrics")
    def metrics(
        practice: str | None = typer.Option(None, "--practice", help="one practice slug"),
        date_from: str | None = typer.Option(None, "--from", help="first day (YYYY-MM-DD)"),
        date_to: str | None = typer.Option(None, "--to", help="last day, inclusive"),
        as_json: bool = typer.Option(False, "--json", help="print the stable JSON document"),
    ) -> None:
        """DOMAIN.md metrics per practice and agency roll-up (default: the last 12 full months)."""
        start = _parse_day(date_from, "--from")
        end = _parse_day(date_to, "--to")
        if start is not None and end is not None and start > end:
            _error(f"--from {start} is after --to {end}")
        # Imported late: keeps `loopdesk --help` fast and the forecast usable without a warehouse.
        from warehouse.metrics import UnknownPractice, compute_metrics
        from warehouse.scope import Scope
        from warehouse.snapshot import SnapshotMissing, open_snapshot

        try:
            conn = open_snapshot()
        except SnapshotMissing as error:
            _error(str(error))
        try:
            # The CLI is an operator tool run on the server: it reads agency-wide.
            result = compute_metrics(
                conn, scope=Scope.agency(), practice_slug=practice, date_from=start, date_to=end
            )
        except (UnknownPractice, ValueError) as error:  # ValueError: an empty/reversed period
            _error(str(error))
        finally:
            conn.close()
        if as_json:
            emit_json(result)
        else:
            _print_metrics(result)

    @app.command("forecast")
    def forecast(
        patients_per_year: float = typer.Option(..., "--patients-per-year", help="P"),
        referral_rate: float = typer.Option(..., "--referral-rate", help="r, 0..1"),
        conversion: float = typer.Option(1.0, "--conversion", help="c, lead -> patient, 0..1"),
        years: int = typer.Option(..., "--years", help="Y, at least 1"),
        no_compounding: bool = typer.Option(
            False, "--no-compounding", help="referred patients do not refer in turn"
        ),
        as_json: bool = typer.Option(False, "--json", help="print the stable JSON document"),
    ) -> None:
        """The compounding forecast: referred patients per year and in total."""
        from warehouse.forecast import forecast as compute_forecast

        if years > MAX_FORECAST_YEARS:
            _error(f"--years must be at most {MAX_FORECAST_YEARS}, got {years}")
        try:
            result = compute_forecast(
                patients_per_year=patients_per_year,
                referral_rate=referral_rate,
                conversion=conversion,
                years=years,
                compounding=not no_compounding,
            )
        except ValueError as error:
            _error(str(error))
        if not math.isfinite(result.total):  # JSON has no Infinity: refuse rather than emit it
            _error("the forecast overflows; use a smaller --patients-per-year")
        if as_json:
            emit_json(result.as_dict())
            return
        mode = "compounding" if result.assumptions["compounding"] else "no compounding"
        typer.echo(
            f"P={patients_per_year:g} r={referral_rate:g} c={conversion:g}, {mode}: "
            f"{result.assumptions['formula']}"
        )
        for year, value in enumerate(result.by_year, start=1):
            typer.echo(f"year {year}: {value:,.2f}")
        typer.echo(f"total: {result.total:,.2f}")

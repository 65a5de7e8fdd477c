"""CLI command of the simulation area: `simulate` (docs/simulation.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from console.commands.output import emit_json

if TYPE_CHECKING:  # rich loads only when `simulate` runs (every command imports this module)
    from rich.console import Console

ROWS = (
    ("leads / coordinator-hour", "leads_per_coordinator_hour", "{:.3f}"),
    ("booked leads / coordinator-hour", "booked_leads_per_coordinator_hour", "{:.3f}"),
    ("booked revenue / coordinator-hour", "booked_revenue_per_coordinator_hour", "${:,.0f}"),
    ("lead first contact within SLA", "lead_contact_within_sla", "{:.1%}"),
    ("  leads due before the team's next hour", "lead_sla_out_of_reach", "{:,}"),
    ("  within SLA of the others", "lead_contact_within_sla_in_reach", "{:.1%}"),
    ("loop-closure rate", "loop_closure_rate", "{:.1%}"),
    ("worst practice vs contracted hours", "worst_hours_deviation", "{:+.1%}"),
    ("team time on calls", "busy_share", "{:.1%}"),
    ("team time on other work", "other_work_share", "{:.1%}"),
    ("calls", "calls", "{:,}"),
)


def _cell(value: Any, fmt: str) -> str:
    return "—" if value is None else fmt.format(value)


def print_document(document: dict[str, Any], console: Console) -> None:
    """The per-policy figures as a table, with priority's ratios under it."""
    from rich.table import Table

    policies = document["policies"]
    table = Table(title="Simulated agency after the warm-up")
    table.add_column("measure")
    for name in policies:
        table.add_column(name, justify="right")
    for label, key, fmt in ROWS:
        table.add_row(label, *(_cell(policies[name].get(key), fmt) for name in policies))
    kinds = next(iter(policies.values()))["sla_compliance"]
    for kind in kinds:
        table.add_row(f"SLA met: {kind.replace('_', ' ')}",
                      *(_cell(policies[name]["sla_compliance"][kind], "{:.1%}")
                        for name in policies))
    console.print(table)
    prio = policies.get("priority", {})
    for other in ("fifo", "oracle"):
        ratio = prio.get(f"ratio_to_{other}")
        if ratio is not None:
            console.print(f"priority / {other}: {ratio:.2f}× booked revenue per coordinator-hour")


def register(app: typer.Typer) -> None:
    """Add `simulate` to the app."""

    @app.command("simulate")
    def simulate_command(
        world_file: Path = typer.Option(..., "--world", help="the world file (TOML)"),
        policy: list[str] = typer.Option(
            [], "--policy", help="fifo, priority or oracle (repeatable; default all three)"),
        as_json: bool = typer.Option(False, "--json", help="print the stable JSON document"),
    ) -> None:
        """Simulate the agency over the real services and compare queue policies."""
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from console.simulation.policies import POLICIES
        from console.simulation.runner import simulate
        from console.simulation.world import load_world

        world = load_world(world_file)
        err = Console(stderr=True)
        bar = Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                       console=err, disable=not err.is_terminal)
        with bar:
            job = bar.add_task("simulating", total=1.0)

            def report(fraction: float, message: str) -> None:
                bar.update(job, completed=fraction, description=message)

            document = simulate(world, policy or POLICIES, report)
        if as_json:
            emit_json(document)
        else:
            print_document(document, Console())

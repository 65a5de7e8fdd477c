"""CLI command that runs the whole loop: `build` (models, snapshot, task refresh).

`demo` is registered from console/demo/commands.py by the composition root (console/cli.py).
"""

from __future__ import annotations

import typer

from console.commands.output import emit_json

# The loop's modules (polars, DuckDB) are imported inside the commands: `loopdesk --help`,
# `claim`, `log` and `inbound` never pay for them.


def register(app: typer.Typer) -> None:
    """Add `build` to the `loopdesk` app."""

    @app.command("build")
    def build_command(
        as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
        full: bool = typer.Option(
            False, "--full", help="rebuild every practice (default: only those whose rows changed)"
        ),
    ) -> None:
        """Run the warehouse models, publish the snapshot and refresh the task table."""
        from console.lifecycle.build import build_everything

        result = build_everything(full=full)
        if as_json:
            emit_json(result.to_json())
        else:
            typer.echo(result.describe())

"""CLI commands that run the whole loop: `build` (models, snapshot, task refresh) and `demo`."""

from __future__ import annotations

import typer

from console.commands.output import emit_json

# The loop's modules (polars, DuckDB) are imported inside the commands: `loopdesk --help`,
# `claim`, `log` and `inbound` never pay for them.


def register(app: typer.Typer) -> None:
    """Add `build` and `demo` to the `loopdesk` app."""

    @app.command("build")
    def build_command(
        as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
        full: bool = typer.Option(
            False, "--full", help="rebuild every practice (default: only those whose rows changed)"
        ),
    ) -> None:
        """Run the warehouse models, publish the snapshot and refresh the task table."""
        from console.lifecycle import build_everything

        result = build_everything(full=full)
        if as_json:
            emit_json(result.to_json())
        else:
            typer.echo(result.describe())

    @app.command("demo")
    def demo_command(
        port: int = typer.Option(8501, help="port to serve the console on"),
        serve: bool = typer.Option(True, "--serve/--no-serve", help="serve after setting up"),
    ) -> None:
        """Make demo data if absent, ingest, build, create demo users (printed) and serve."""
        from console.lifecycle import run_demo

        run_demo(port=port, serve=serve)

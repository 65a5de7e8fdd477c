"""CLI commands that run the whole loop: `build` (models, snapshot, task refresh) and `demo`."""

from __future__ import annotations

import typer

from console.commands.output import emit_json
from console.lifecycle import build_everything, run_demo


def register(app: typer.Typer) -> None:
    """Add `build` and `demo` to the `loopdesk` app."""

    @app.command("build")
    def build_command(
        as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
    ) -> None:
        """Run the warehouse models, publish the snapshot and refresh the task table."""
        result = build_everything()
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
        run_demo(port=port, serve=serve)

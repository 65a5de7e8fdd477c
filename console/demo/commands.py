"""CLI command `demo`: registered by the composition root (console/cli.py), not by the core."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add `demo` to the `loopdesk` app."""

    @app.command("demo")
    def demo_command(
        port: int = typer.Option(8501, help="port to serve the console on"),
        serve: bool = typer.Option(True, "--serve/--no-serve", help="serve after setting up"),
    ) -> None:
        """Make demo data if absent, ingest, build, create demo users (printed) and serve."""
        from console.demo.run import run_demo

        run_demo(port=port, serve=serve)

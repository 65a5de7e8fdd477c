"""CLI command `serve`: the console and the HTTP routes on one port."""

from __future__ import annotations

import typer

DEFAULT_PORT = 8501


def register(app: typer.Typer) -> None:
    """Add `serve` to the `loopdesk` app."""

    @app.command("serve")
    def serve(
        port: int = typer.Option(DEFAULT_PORT, "--port", help="port to listen on"),
        host: str = typer.Option("127.0.0.1", "--host", help="address to bind"),
    ) -> None:
        """Serve the console and the HTTP routes (uvicorn)."""
        from console.web.serve import run_server

        run_server(host=host, port=port)

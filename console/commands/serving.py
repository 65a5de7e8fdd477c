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
        run_server(host=host, port=port)


def run_server(*, host: str, port: int) -> None:
    """Check the secret and the store, then serve `console.app:create_app` until stopped."""
    import uvicorn

    from console.db import get_engine, init_db
    from console.settings import get_settings

    settings = get_settings()
    settings.signing_key()  # refuses a short secret before anything listens
    init_db(get_engine())
    # Links (report links, referral links) point at this server unless configured otherwise.
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 (a comparison)
    address = settings.serve_address_file
    address.parent.mkdir(parents=True, exist_ok=True)
    address.write_text(f"http://{shown}:{port}\n")
    # Access lines are kept (Streamlit turns them on) but console.app strips query strings.
    # uvicorn must not rewrite the client address from X-Forwarded-For (by default it trusts
    # loopback peers): console.edge.client_address decides, with LOOPDESK_TRUSTED_PROXIES.
    uvicorn.run("console.app:create_app", factory=True, host=host, port=port, log_level="info",
                proxy_headers=False, server_header=False)

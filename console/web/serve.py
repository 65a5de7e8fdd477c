"""Serving the console and its HTTP routes on one port (uvicorn), as `serve` and `demo` do."""

from __future__ import annotations


def run_server(*, host: str, port: int) -> None:
    """Check the secret and the store, then serve `console.web.app:create_app` until stopped."""
    import uvicorn

    from console.platform.db import get_engine, init_db
    from loopdesk_core.settings import get_settings

    settings = get_settings()
    settings.signing_key()  # refuses a short secret before anything listens
    init_db(get_engine())
    # Links (report links, referral links) point at this server unless configured otherwise.
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 (a comparison)
    address = settings.serve_address_file
    address.parent.mkdir(parents=True, exist_ok=True)
    address.write_text(f"http://{shown}:{port}\n")
    # Access lines are kept (Streamlit turns them on) but console.web.app strips query strings.
    # uvicorn must not rewrite the client address from X-Forwarded-For (by default it trusts
    # loopback peers): console.platform.edge.client_address decides, with LOOPDESK_TRUSTED_PROXIES.
    uvicorn.run("console.web.app:create_app", factory=True, host=host, port=port, log_level="info",
                proxy_headers=False, server_header=False)

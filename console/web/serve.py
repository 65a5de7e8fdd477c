"""Serving the console and its HTTP routes on one port (uvicorn), as `serve` and `demo` do."""

from __future__ import annotations


def run_server(*, host: str, port: int) -> None:
    """Check the secret and the store, then serve `console.web.app:create_app` until stopped."""
    import threading

    import uvicorn

    from console.identity.audit import seal_forever
    from console.platform.db import get_engine, init_db
    from loopdesk_core.settings import get_settings

    settings = get_settings()
    settings.signing_key()  # refuses a short secret before anything listens
    engine = get_engine()
    init_db(engine)
    # The audit sealer's timer: appended events join the hash chain within this interval.
    stop = threading.Event()
    threading.Thread(target=seal_forever, name="audit-sealer", daemon=True, kwargs={
        "engine": engine, "interval_s": settings.audit_seal_seconds, "stop": stop}).start()
    # Links (report links, referral links) point at this server unless configured otherwise.
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 (a comparison)
    address = settings.serve_address_file
    address.parent.mkdir(parents=True, exist_ok=True)
    address.write_text(f"http://{shown}:{port}\n")
    # Access lines are kept (Streamlit turns them on) but console.web.app strips query strings.
    # uvicorn must not rewrite the client address from X-Forwarded-For (by default it trusts
    # loopback peers): console.platform.edge.client_address decides, with LOOPDESK_TRUSTED_PROXIES.
    try:
        uvicorn.run("console.web.app:create_app", factory=True, host=host, port=port,
                    log_level="info", proxy_headers=False, server_header=False)
    finally:
        stop.set()

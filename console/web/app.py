"""The ASGI application: the Streamlit console and the HTTP routes on one port."""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.middleware import Middleware
from streamlit.starlette import App

from console.identity.session_cookie import cookie_routes
from console.outreach.referral_form import referral_routes
from console.outreach.routes import outreach_routes
from console.platform.edge import EdgeMiddleware, redact_path
from console.web.http import HttpServices, build_routes
from loopdesk_core.home import make_private
from loopdesk_core.settings import get_settings

ENTRY_SCRIPT = Path(__file__).resolve().parents[2] / "streamlit_app.py"
ACCESS_LOGGER = "uvicorn.access"


class RedactQueryStrings(logging.Filter):
    """Drop query strings (report tokens), referral codes (`/r/[code]`) and unsubscribe tokens
    (`/u/[token]`) from access lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite uvicorn's (client, method, path, version, status) args; keep the line."""
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_path(args[2]), *args[3:])
        return True


def install_log_redaction() -> None:
    """Attach the redaction filter to the access logger once (Streamlit re-adds its handlers)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(existing, RedactQueryStrings) for existing in logger.filters):
        logger.addFilter(RedactQueryStrings())


def create_app(services: HttpServices | None = None) -> App:
    """The console app; refuses to start with a signing secret shorter than 32 bytes."""
    # Fail at start-up, not on the first login, when the secret is missing or too short.
    make_private()
    get_settings().signing_key()
    install_log_redaction()
    return App(str(ENTRY_SCRIPT), routes=[*build_routes(services), *referral_routes(),
                                          *outreach_routes(), *cookie_routes()],
               middleware=[Middleware(EdgeMiddleware)])

"""The ASGI application: the Streamlit console and the HTTP routes on one port."""

from __future__ import annotations

from pathlib import Path

from streamlit.starlette import App

from console.http import HttpServices, build_routes
from console.settings import get_settings

ENTRY_SCRIPT = Path(__file__).resolve().parent.parent / "streamlit_app.py"


def create_app(services: HttpServices | None = None) -> App:
    """The console app; refuses to start with a signing secret shorter than 32 bytes."""
    # Fail at start-up, not on the first login, when the secret is missing or too short.
    get_settings().signing_key()
    return App(str(ENTRY_SCRIPT), routes=build_routes(services))

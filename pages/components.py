"""Widgets shared by the pages: the login form, the acting user, messages and tables."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st

from console.access import CurrentUser
from console.clock import now
from console.edge import login_client
from console.errors import UserError
from console.views.data import NoData, rate_text
from console.views.identity import log_in, log_out, pages_for, who_is

TOKEN_KEY = "session_token"  # noqa: S105 (a session_state key)
FLASH_KEY = "flash"
T = TypeVar("T")


def current_user(page_file: str) -> CurrentUser:
    """The logged-in user, re-read from the store, if their role may open this page; else stop.

    Pages check for themselves instead of trusting the router or a value kept in
    session_state: Streamlit can run a file under pages/ directly, and a role or an
    account may have changed since the last rerun.
    """
    user = who_is(token=st.session_state.get(TOKEN_KEY), now=now())
    allowed = {Path(spec.path).name for spec in pages_for(user)} if user is not None else set()
    if user is None or Path(page_file).name not in allowed:
        st.stop()
    assert user is not None
    return user


def login_form() -> None:
    """Email and password; a good login keeps only the server-side session token."""
    st.title("Loopdesk")
    st.caption("The referral agency's operations console. Log in to continue.")
    with st.form("login"):
        email = st.text_input("Email")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Log in", type="primary")
    if submitted:
        address = st.context.ip_address
        # The rate limiter's per-client key: the peer, or behind LOOPDESK_TRUSTED_PROXIES the
        # forwarded client (console.edge); unknown shares one bucket.
        client = login_client(address if isinstance(address, str) else None,
                              st.context.headers.get_all("X-Forwarded-For"))
        try:
            token = log_in(email=email, password=password, client_key=client, now=now())
        except UserError as error:
            st.error(str(error))
            return
        st.session_state[TOKEN_KEY] = token
        st.rerun()


def log_out_now() -> None:
    """End the server-side session and forget its token (a button callback)."""
    token = st.session_state.pop(TOKEN_KEY, None)
    if token:
        log_out(token=token, now=now())


def flash(kind: str, message: str) -> None:
    """Keep a message to show on the next rerun (after a callback acted)."""
    st.session_state[FLASH_KEY] = (kind, message)


def show_flash() -> None:
    """Show and forget the pending message, if any."""
    pending = st.session_state.pop(FLASH_KEY, None)
    if pending is None:
        return
    kind, message = pending
    (st.success if kind == "success" else st.error)(message)


def guarded(action: Callable[[], T]) -> T:
    """Run a view; a missing snapshot or a user mistake is shown as a message and stops the page."""
    try:
        return action()
    except NoData as error:
        st.info(str(error))
        st.stop()
    except UserError as error:
        st.error(str(error))
        st.stop()
    raise AssertionError("unreachable")  # st.stop() raises


def table(rows: list[dict[str, Any]], *, empty: str) -> None:
    """Rows as a read-only table (cells are data, never markup), or a note when there are none."""
    if not rows:
        st.caption(empty)
        return
    st.dataframe(rows, hide_index=True, width="stretch")


def rate(value: float | None) -> str:
    """A rate for display: a percentage, or "—" when undefined."""
    return rate_text(value)

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


def report_month_picker(slug: str, *, key: str) -> Any:
    """The report month (default: the previous month in the practice's zone) as a select box."""
    from console.reporting.service import report_months
    from console.views.identity import store

    with store() as db:
        months = report_months(session=db, practice_slug=slug, now=now())
    return st.selectbox("Report month", months, format_func=lambda m: m.label,
                        key=f"{key}-month-{slug}")


def return_banner(preview: dict[str, Any]) -> None:
    """The agency's value in one line, as page 1 of the PDF states it."""
    month_line, year_line = preview["return_line"]
    st.info(f"**{month_line}**  \n{year_line}")
    if not preview["has_data"]:
        st.caption(f"No data for {preview['month_label']}.")


def monthly_pdf_download(user: CurrentUser, slug: str, month: Any, *, key: str) -> None:
    """Prepare the practice-month's PDF (audited as an export), then offer it for download."""
    from console.reporting.service import report_pdf_for_user
    from console.views.identity import store

    state_key = f"{key}-pdf"
    wanted = (slug, month.key)
    this_month = month == _default_month(slug)
    which = "this month's" if this_month else f"the {month.label}"
    prepared = st.session_state.get(state_key)
    if prepared is None or prepared[0] != wanted:
        slot = st.empty()
        if not slot.button(f"Prepare {which} PDF", key=f"{key}-prepare"):
            return
        with st.spinner("Rendering the PDF…"), store() as db:
            rendered = guarded(lambda: report_pdf_for_user(
                session=db, user=user, practice_slug=slug, month=month, now=now()))
        slot.empty()
        prepared = (wanted, rendered.filename, rendered.pdf)
        st.session_state[state_key] = prepared
    _, filename, pdf = prepared
    st.download_button(f"Download {which} PDF", data=pdf, file_name=filename,
                       mime="application/pdf", key=f"{key}-download", on_click="ignore",
                       type="primary")


def _default_month(slug: str) -> Any:
    from console.reporting.service import default_month
    from console.views.identity import store

    with store() as db:
        return default_month(db, slug, now())

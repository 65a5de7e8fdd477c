"""Widgets shared by the pages: the login form, the acting user, messages and tables."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from console.identity.access import CurrentUser
from console.identity.session_cookie import COOKIE_NAME, handoff_code, safe_for_page
from console.platform.edge import login_client
from console.platform.errors import UserError
from console.platform.snapshot import NoData
from console.views.data import rate_text
from console.views.identity import log_in, log_out, store, who_is
from console.views.lists import ListLine, call_now
from loopdesk_core.clock import now
from pages.registry import QUEUE, pages_for

TOKEN_KEY = "session_token"  # noqa: S105 (a session_state key)
FLASH_KEY = "flash"
HANDOFF_KEY = "cookie_handoff"
CLEAR_COOKIE_KEY = "cookie_clear"
RUN_USER_KEY = "acting_user"  # this run's resolved user (RunUser)
# The only script the console ever puts in a page: a same-origin POST to one of the app's own
# cookie routes. The path is one of two constants; the code is a signed token checked against
# the token alphabet (console.identity.session_cookie.safe_for_page) and JSON-quoted.
_COOKIE_PATHS = {"set": "/auth/session", "clear": "/auth/logout"}
_COOKIE_SCRIPT = (
    "<script>fetch({path}, {{method: 'POST', credentials: 'same-origin', "
    "headers: {{'Content-Type': 'application/json'}}, body: JSON.stringify({{code: {code}}})}})"
    ";</script>"
)
# The console's one stylesheet: a constant file in the source tree, never built from data
# (docs/security.md, item 10). `st.html` puts a CSS file's text in a <style> tag, without an
# iframe and outside the page's layout.
STYLESHEET = Path(__file__).resolve().parents[1] / "console" / "web" / "static" / "console.css"
T = TypeVar("T")


def signed_in(now_: datetime) -> CurrentUser | None:
    """The user of this browser session for this script run (see `acting_user`)."""
    return acting_user(now_)


def acting_user(now_: datetime) -> CurrentUser | None:
    """The signed-in user, resolved in the store once per script run and shared by the run.

    The first call of a run (a widget callback, which Streamlit runs before the script, or
    else the router) resolves the session: the page's own token, else the session cookie (a
    reload, a new tab or a deep link). Role and practices are thus re-read on every rerun
    (SECURITY 5); later calls in the same run (the router, the page, its helpers) reuse that
    user instead of resolving again, each resolution being a store read that may take the
    SQLite writer lock. The holder is per browser session (session_state), never per
    process, and is dropped when the token changes (log in, log out).
    """
    run = _this_run()
    held = st.session_state.get(RUN_USER_KEY)
    token = st.session_state.get(TOKEN_KEY)
    if (isinstance(held, RunUser) and run is not None and held.run is run
            and held.token == token):
        return held.user
    user = _resolve(now_)
    st.session_state[RUN_USER_KEY] = RunUser(run=run, token=st.session_state.get(TOKEN_KEY),
                                             user=user)
    return user


@dataclass(frozen=True)
class RunUser:
    """The acting user as one script run resolved it (`run` marks that run)."""

    run: object
    token: str | None
    user: CurrentUser | None


def _this_run() -> object | None:
    """An object that exists once per script run, or None outside one.

    Streamlit makes a fresh parallel-fragment coordinator and a fresh cursor table for each
    run (`ScriptRunContext.reset`, called before the widget callbacks of the run, fragment
    reruns included); the coordinator stays for the whole run, while a queued fragment swaps
    the cursor table for a copy, so the coordinator marks the run (the cursor table when
    there is none). The holder keeps a reference to it, so a later run's object cannot reuse
    its identity. Without either (another Streamlit), every call resolves, as before.
    """
    ctx = get_script_run_ctx()
    if ctx is None:
        return None
    return getattr(ctx, "parallel_coordinator", None) or getattr(ctx, "cursors", None)


def in_fragment_rerun() -> bool:
    """Whether this script run reruns fragments only (not the router and the page)."""
    ctx = get_script_run_ctx()
    return bool(ctx is not None and getattr(ctx, "fragment_ids_this_run", None))


def _resolve(now_: datetime) -> CurrentUser | None:
    """The session's user re-read from the store: the page's token, else the cookie."""
    token = st.session_state.get(TOKEN_KEY)
    user = who_is(token=token, now=now_)
    if user is not None:
        return user
    cookie = st.context.cookies.get(COOKIE_NAME)
    if cookie and cookie != token:
        user = who_is(token=cookie, now=now_)
        if user is not None:
            st.session_state[TOKEN_KEY] = cookie
            return user
    st.session_state.pop(TOKEN_KEY, None)
    return None


_WARMED = threading.Event()


def warm_once() -> None:
    """Once per server process, in the background: load what the first claim and card would
    otherwise load on a coordinator's click (`console.views.work.warm_up`). No user data."""
    if _WARMED.is_set():
        return
    _WARMED.set()
    from console.views.work import warm_up

    threading.Thread(target=warm_up, name="console-warm-up", daemon=True).start()


def cookie_sync() -> None:
    """Ask the browser to trade a fresh login's handoff code for the cookie, or to clear the
    cookie after a logout (the app's own HTTP routes set and clear it)."""
    code = st.session_state.pop(HANDOFF_KEY, None)
    if isinstance(code, str) and safe_for_page(code):
        _cookie_call("set", code)
    if st.session_state.pop(CLEAR_COOKIE_KEY, False):
        _cookie_call("clear", "")


def stylesheet() -> None:
    """Apply the console's stylesheet to this page (a constant file, no data)."""
    st.html(STYLESHEET)


def _cookie_call(action: str, code: str) -> None:
    script = _COOKIE_SCRIPT.format(path=json.dumps(_COOKIE_PATHS[action]),
                                   code=json.dumps(code))
    st.html(script, width="content", unsafe_allow_javascript=True)


def current_user(page_file: str) -> CurrentUser:
    """The logged-in user, re-read from the store this run, if their role may open this page;
    else stop.

    Pages check for themselves instead of trusting the router or a value kept from an
    earlier run: Streamlit can run a file under pages/ directly, and a role or an account
    may have changed since the last rerun (`acting_user` resolves once per run, fragment
    reruns included). In a fragment rerun a user who may no longer open the page gets a
    full rerun instead, so the router shows the login form or the pages their role sees.
    """
    user = page_user(page_file)
    if user is None:
        if in_fragment_rerun():
            st.rerun(scope="app")
        st.stop()
    assert user is not None
    return user


def page_user(page_file: str) -> CurrentUser | None:
    """The logged-in user (re-read this run) if their role may open this page, else None:
    for widget callbacks, which run before the page and must not stop it."""
    user = acting_user(now())
    allowed = {Path(spec.path).name for spec in pages_for(user)} if user is not None else set()
    if user is None or Path(page_file).name not in allowed:
        return None
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
        # forwarded client (console.platform.edge); unknown shares one bucket.
        client = login_client(address if isinstance(address, str) else None,
                              st.context.headers.get_all("X-Forwarded-For"))
        try:
            token = log_in(email=email, password=password, client_key=client, now=now())
        except UserError as error:
            st.error(str(error))
            return
        st.session_state[TOKEN_KEY] = token
        st.session_state[HANDOFF_KEY] = handoff_code(session_token=token, now=now())
        st.rerun()


def log_out_now() -> None:
    """End the server-side session and forget its token (a button callback)."""
    token = st.session_state.pop(TOKEN_KEY, None)
    if token:
        log_out(token=token, now=now())
    st.session_state[CLEAR_COOKIE_KEY] = True


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


def table(rows: list[dict[str, Any]], *, empty: str, whole: bool = False) -> None:
    """Rows as a read-only table (cells are data, never markup), or a note when there are none;
    `whole`: as tall as its rows (a dozen clients, not ten and a scroll bar)."""
    if not rows:
        st.caption(empty)
        return
    st.dataframe(rows, hide_index=True, width="stretch", height="content" if whole else "auto")


def rate(value: float | None) -> str:
    """A rate for display: a percentage, or "—" when undefined."""
    return rate_text(value)


def filtered(lines: list[ListLine], *, key: str, status_label: str = "Show") -> list[ListLine]:
    """The practice and open/closed filters above a list; the lines they keep (open first)."""
    practices = sorted({line.practice_name for line in lines})
    left, right = st.columns(2)
    practice = left.selectbox("Practice", ["All practices", *practices], key=f"{key}_practice")
    show = right.selectbox(status_label, ["Open first, then the rest", "Open only",
                                          "Closed only"], key=f"{key}_show")
    kept = [line for line in lines if practice == "All practices"
            or line.practice_name == practice]
    if show == "Open only":
        kept = [line for line in kept if line.is_open]
    elif show == "Closed only":
        kept = [line for line in kept if not line.is_open]
    return kept


def act_on(lines: list[ListLine], *, key: str, picker: str, action: str, empty: str) -> None:
    """Pick an open row and claim its task; My queue then shows its card."""
    # Label → task; a repeated label (same name, practice and status) gets a number.
    actionable: dict[str, int] = {}
    for line in lines:
        if line.task_id is None:
            continue
        label, n = line.label, 1
        while label in actionable:
            n += 1
            label = f"{line.label} ({n})"
        actionable[label] = line.task_id
    if not actionable:
        st.caption(empty)
        return
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    chosen = left.selectbox(picker, list(actionable), key=f"{key}_pick")
    if right.button(action, type="primary", key=f"{key}_act") and chosen in actionable:
        user = current_user_any()
        try:
            with store() as session:
                call_now(session=session, user=user, task_id=actionable[chosen], now=now())
        except UserError as error:
            st.error(str(error))
            return
        st.switch_page(QUEUE.path)


def current_user_any() -> CurrentUser:
    """The signed-in user (the page itself already checked it may open it)."""
    user = acting_user(now())
    if user is None:
        st.stop()
    assert user is not None
    return user


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

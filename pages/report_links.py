"""Report links: a practice's read-only report links for its owners — list, create, revoke."""

from __future__ import annotations

import streamlit as st

from console.platform.errors import UserError
from console.reporting.report_links import MAX_LINK_DAYS
from console.views.identity import store
from console.views.links import end_link, link_practices, list_links, new_link
from loopdesk_core.clock import now
from pages.components import current_user, flash, guarded, show_flash, table

NEW_URL_KEY = "report_link_new_url"

user = current_user(__file__)
st.title("Report links")
st.caption("Expiring read-only links to a practice's report for its owners. A browser shows "
           "the report as a page; programs get the same data as JSON. Creating and revoking "
           "are audited.")
show_flash()
with store() as db:
    practices = guarded(lambda: link_practices(session=db, user=user))
if not practices:
    st.info("No practices yet: run a build.")
    st.stop()
names = list(practices.values())
chosen_name = st.selectbox("Practice", names, key="links_practice")
slug = next(s for s, name in practices.items() if name == chosen_name)


def _create() -> None:
    try:
        with store() as session:
            link = new_link(session=session, user=user, practice_slug=slug,
                            days=int(st.session_state["links_days"]), now=now())
    except UserError as error:
        flash("error", str(error))
        return
    st.session_state[NEW_URL_KEY] = link.url
    flash("success", f"New link for {chosen_name}, valid until {link.expires_at:%b %d %Y}. "
                     "Copy it now: it is shown only once.")


new_url = st.session_state.pop(NEW_URL_KEY, None)
if new_url:
    st.code(new_url, language=None)
days, button = st.columns([3, 1], vertical_alignment="bottom")
days.number_input("Valid for (days)", min_value=1, max_value=MAX_LINK_DAYS, value=30,
                  key="links_days")
button.button("Create link", type="primary", on_click=_create)

with store() as db:
    lines = guarded(lambda: list_links(session=db, user=user, practice_slug=slug, now=now()))
table([{"created": line.created, "by": line.created_by, "expires": line.expires,
        "status": line.status} for line in lines], empty="No report links for this practice.")
live = {line.label: line.jti for line in lines if line.status.startswith("active")}
if live:
    pick, revoke = st.columns([3, 1], vertical_alignment="bottom")
    label = pick.selectbox("Link to revoke", list(live), key="links_revoke_pick")
    if revoke.button("Revoke", key="links_revoke"):
        try:
            with store() as db:
                end_link(session=db, user=user, practice_slug=slug, jti=live[label], now=now())
        except UserError as error:
            st.error(str(error))
        else:
            flash("success", "Revoked: that link stops working at once.")
            st.rerun()

"""Audit log: the newest audited actions, filtered by who, what, practice and date."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import streamlit as st

from console.views.identity import store
from console.views.manage import audit_csv, audit_filters, audit_rows
from loopdesk_core.clock import now
from pages.components import current_user, guarded, table

ANY = "Any"

user = current_user(__file__)
st.title("Audit log")
st.caption("Append-only and hash-chained: logins, views of patient data, exports, claims, "
           "dispositions, consent and role changes. Objects are named by id, never by person.")
with store() as db:
    options = guarded(lambda: audit_filters(session=db, user=user))
practices: dict[str, str] = options["practices"]
who, what, where = st.columns(3)
actor = who.selectbox("Who", [ANY, *options["emails"]], key="audit_actor")
action = what.selectbox("Action", [ANY, *options["actions"]], key="audit_action",
                        format_func=lambda value: value.replace("_", " "))
practice = where.selectbox("Practice", [ANY, *practices], key="audit_practice",
                           format_func=lambda slug: practices.get(slug, slug))
today = now().date()
start, end = st.columns(2)
since = start.date_input("From (UTC)", value=today - timedelta(days=30), key="audit_from")
until = end.date_input("To (UTC)", value=today, key="audit_to")
with store() as db:
    rows = guarded(lambda: audit_rows(
        session=db, user=user, actor_email=None if actor == ANY else actor,
        action=None if action == ANY else action,
        practice_slug=None if practice == ANY else practice,
        since=datetime.combine(since, time(0), tzinfo=UTC),
        until=datetime.combine(until + timedelta(days=1), time(0), tzinfo=UTC)))
table(rows, empty="No events match.")


def _csv() -> bytes:
    """Built only when the button is clicked, so only a real download is audited."""
    with store() as session:
        return audit_csv(session=session, user=user, rows=rows, now=now())


st.download_button("Download CSV", data=_csv, file_name="loopdesk-audit-log.csv",
                   mime="text/csv", disabled=not rows)

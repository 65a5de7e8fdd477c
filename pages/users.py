"""Users: list, add, change role and practices, deactivate (every change audited)."""

from __future__ import annotations

import math

import streamlit as st

from console.models.identity import Role
from console.platform.errors import UserError
from console.views.identity import store
from console.views.manage import add_user, change_user, clients, deactivate, user_rows
from loopdesk_core.clock import now
from pages.components import current_user, guarded

ROLES = [role.value for role in Role]

user = current_user(__file__)
st.title("Users")
with store() as db:
    rows = guarded(lambda: user_rows(session=db, user=user))
    names = {p.practice_slug: p.name for p in clients(session=db, user=user)}
slugs = list(names)


def _role(value: str) -> str:
    return value.replace("_", " ")


def _practice(slug: str) -> str:
    return names.get(slug, "a practice no longer in the store")


# Wide enough for about this many characters of practice names a line; rows grow to fit.
NAMES_PER_LINE = 60
LINE_PX = 21


def practices_cell(assigned: list[str]) -> str:
    """Whose work a user sees, readable in one cell: "All 12 practices" for a user with every
    practice, else the count and the names ("2 practices: Beacon Hill …, Brickell …")."""
    if not assigned:
        return "—"
    if len(assigned) > 1 and set(assigned) >= set(slugs):
        return f"All {len(slugs)} practices"
    listed = ", ".join(sorted(_practice(slug) for slug in assigned))
    return listed if len(assigned) == 1 else f"{len(assigned)} practices: {listed}"


shown = [{"email": r["email"], "role": _role(r["role"]),
          "practices": practices_cell([s for s in r["practices"].split(", ") if s]),
          "active": "yes" if r["active"] else "no"} for r in rows]
if not shown:
    st.caption("No users.")
else:
    # A coordinator of 6 of 12 practices has ~170 characters of names: the cell wraps (the
    # rows as tall as the longest needs) instead of cutting them at the column's edge.
    lines = max(math.ceil(len(row["practices"]) / NAMES_PER_LINE) for row in shown)
    row_px = LINE_PX * lines + 14 if lines > 1 else 35
    st.dataframe(shown, hide_index=True, width="stretch",
                 row_height=row_px if lines > 1 else None,
                 height=38 + row_px * min(len(shown), 10),  # ten users, then a scroll bar
                 column_config={
                     "email": st.column_config.TextColumn(width="medium"),
                     "role": st.column_config.TextColumn(width="small"),
                     "practices": st.column_config.TextColumn(width="large"),
                     "active": st.column_config.TextColumn(width="small")})

st.subheader("Add a user")
with st.form("add-user", clear_on_submit=True):
    email = st.text_input("Email")
    role = st.selectbox("Role", ROLES, format_func=_role)
    practices = st.multiselect("Practices", slugs, format_func=_practice)
    password = st.text_input("Initial password (12+ characters)", type="password")
    added = st.form_submit_button("Add user", type="primary")
if added:
    try:
        with store() as db:
            new_id = add_user(session=db, user=user, email=email, role=role, password=password,
                              practice_slugs=practices, now=now())
    except UserError as error:
        st.error(str(error))
    else:
        st.success(f"Added {email.strip().lower()}." if new_id else "Added.")

if rows:
    st.subheader("Change a user")
    by_id = {r["id"]: r for r in rows}
    chosen = st.selectbox("User", list(by_id), format_func=lambda i: by_id[i]["email"])
    current = by_id[chosen]
    with st.form(f"change-{chosen}"):
        new_role = st.selectbox("Role", ROLES, index=ROLES.index(current["role"])
                                if current["role"] in ROLES else 0, format_func=_role)
        assigned = [s for s in current["practices"].split(", ") if s in slugs]
        new_practices = st.multiselect("Practices", slugs, default=assigned,
                                       format_func=_practice)
        changed = st.form_submit_button("Save changes")
    if changed:
        try:
            with store() as db:
                change_user(session=db, user=user, user_id=chosen, role=new_role,
                            practice_slugs=new_practices, now=now())
        except UserError as error:
            st.error(str(error))
        else:
            st.success("Saved; it takes effect on that user's next click.")
    if current["active"] and st.button("Deactivate this user"):
        try:
            with store() as db:
                deactivate(session=db, user=user, user_id=chosen, now=now())
        except UserError as error:
            st.error(str(error))
        else:
            st.success("Deactivated; their sessions have ended.")

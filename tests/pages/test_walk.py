"""A walk over every page of every role in the built world: nothing raw reaches the screen.

Every rendered text (titles, text, captions, metrics, alerts, table cells, widget labels and
options) is checked for `None`, practice slugs, `user:N` actors, internal patient / lead ids
and raw task-kind or outcome names.
"""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from console.models.identity import Role
from pages.registry import PAGES_BY_ROLE
from tests.pages.conftest import Login, World, texts

RAW_NAMES = ("contact_lead", "close_loop", "follow_up", "review_request", "callback_requested",
             "no_answer", "willing_no_name", "lead_booked", "lead_declined", "lead_unreachable",
             "wrong_number", "opted_out", "loop_closed", "view_patient")
PATTERNS = {
    "None": re.compile(r"\bNone\b"),
    "a user id": re.compile(r"\buser:\d+\b"),
    "a patient or lead id": re.compile(r"\b[PL]\d{5,}\b"),
    "a task id": re.compile(r"\btask \d+\b", re.IGNORECASE),
}


def _cells(app: AppTest, title: str) -> str:
    """Every table cell; the Audit log's object column is left out: patient-data objects are
    named there by id on purpose (the log never names a patient, SECURITY 21)."""
    frames = [df.value for df in app.dataframe]
    if title == "Audit log":
        frames = [f.drop(columns=["object"], errors="ignore") for f in frames]
    return "\n".join(f.to_csv() for f in frames)


def _everything(app: AppTest, title: str = "") -> str:
    parts = [texts(app), _cells(app, title)]
    for kind in ("selectbox", "multiselect", "radio"):
        for widget in getattr(app, kind):
            parts.append(str(widget.label))
            parts += [str(option) for option in widget.options]
    parts += [str(b.label) for b in app.button]
    parts += [str(w.label) for w in app.text_input] + [str(w.label) for w in app.number_input]
    return "\n".join(parts)


def _problems(shown: str, world: World, where: str) -> list[str]:
    found = [f"{where}: {what}" for what, pattern in PATTERNS.items() if pattern.search(shown)]
    found += [f"{where}: slug {slug}" for slug in world.practices if slug in shown]
    found += [f"{where}: raw {name}" for name in RAW_NAMES if name in shown]
    return found


@pytest.mark.parametrize("role", [Role.coordinator, Role.manager, Role.admin,
                                  Role.client_owner])
def test_every_page_of_every_role_shows_no_raw_value(
    role: Role, login: Login, world: World
) -> None:
    slugs = sorted(world.practices)
    practices = slugs if role == Role.coordinator else slugs[:1] \
        if role == Role.client_owner else []
    app, _ = login(role, practices)
    problems = []
    for spec in PAGES_BY_ROLE[role]:
        app.switch_page(spec.path).run()
        assert not app.exception, (spec.path, app.exception)
        problems += _problems(_everything(app, spec.title), world, f"{role.value} {spec.title}")
        if spec.path == "pages/my_queue.py":
            # The card too: take the next task and read it, then give it back.
            next(b for b in app.button if b.label == "Next task").click().run()
            assert not app.exception
            problems += _problems(_everything(app), world, f"{role.value} task card")
            # The touches table is built when its expander is opened: open it and read it.
            for key in [k for k in app.session_state if k.startswith("touches-")]:
                app.session_state[key] = True
                app.run()
                assert not app.exception and app.dataframe, "the opened touches table"
                problems += _problems(_everything(app), world, f"{role.value} touches")
            next(b for b in app.button if b.label == "Release to queue").click().run()
    assert problems == []

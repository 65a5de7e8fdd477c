"""A coordinator's shift in Chromium: the number to dial, a session that survives a reload,
two coordinators pressing Next task together, quiet hours, Call now from Leads, and every
page of every role (screenshots in test-artifacts/, no raw id, slug or None on screen)."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Served
from tests.e2e.support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, PASSWORD

TIMEOUT_MS = 60_000
ROUNDS = 10
pytestmark = pytest.mark.e2e
PAGES_BY_ROLE = {
    "walker@e2e.test": ["My queue", "Leads", "Loop closures"],
    "manager@e2e.test": ["SLA board", "Capacity", "Clients", "Templates", "Users",
                         "Data quality", "Audit log", "What the queue learned",
                         "Staffing what-if", "Report links"],
    "owner@e2e.test": ["Report"],
}


@contextmanager
def _browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _page(context: Any) -> Any:
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


def _log_in(page: Any, url: str, email: str) -> None:
    from playwright.sync_api import expect

    page.goto(url)
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible(timeout=TIMEOUT_MS)


def settle(page: Any) -> None:
    """Wait until the script run finished and no element from the previous run is left."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]',
                           timeout=TIMEOUT_MS)
    page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]')",
                           timeout=TIMEOUT_MS)


def _store(served: Served) -> Path:
    return Path(served.world.env["LOOPDESK_HOME"]) / "loopdesk.db"


def _held(served: Served, email: str) -> list[int]:
    """Task ids the user holds now (read straight from the SQLite store)."""
    with closing(sqlite3.connect(_store(served))) as db:
        rows = db.execute(
            "select t.task_id from tasks t join users u on u.user_id = t.claimed_by "
            "where u.email = ? and t.status = 'claimed'", (email,)).fetchall()
    return [int(row[0]) for row in rows]


# Navigation titles whose page heading says it otherwise.
HEADINGS = {"What the queue learned": "What the queue has learned"}
# Metric tiles whose value does not fit its box (Streamlit cuts it with an ellipsis).
CUT_TILES = """() => [...document.querySelectorAll(
    '[data-testid="stMetricValue"], [data-testid="stMetricValue"] *')]
    .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)"""


def cut_tiles(page: Any) -> list[str]:
    """The metric values on screen shown cut ("Lakeshore Dental …")."""
    return list(page.evaluate(CUT_TILES))


def _no_error_on(page: Any) -> None:
    assert page.get_by_test_id("stException").count() == 0
    text = page.inner_text("body")
    assert "database is locked" not in text and "encountered an error" not in text


def test_the_card_shows_the_number_to_dial_and_no_outcome_chosen(served: Served) -> None:
    from playwright.sync_api import expect

    with _browser() as browser:
        page = _page(browser.new_context(viewport={"width": 1400, "height": 900}))
        _log_in(page, served.url, "card@e2e.test")
        page.get_by_role("button", name="Next task").click()
        call = page.get_by_role("link", name=re.compile(r"^.*Call \(\d{3}\) \d{3}-\d{4}$"))
        expect(call).to_be_visible()
        href = call.get_attribute("href") or ""
        assert re.fullmatch(r"tel:\+1\d{10}", href), href
        # The primary action is above the fold of a 900-px-high window.
        log_button = page.get_by_role("button", name="Log outcome")
        box = log_button.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 900
        assert log_button.is_disabled()  # nothing chosen yet
        assert cut_tiles(page) == []  # "Tue 16:31 (Los An…" read cut before
        outcome = page.get_by_test_id("stSelectbox").filter(has_text="Outcome")
        box_input = outcome.get_by_role("combobox")
        assert box_input.input_value() == ""
        assert "Choose what happened" in (box_input.get_attribute("placeholder") or "")
        page.screenshot(path=str(ARTIFACTS / "shift-card.png"))
        # Type-ahead: typing narrows the outcome list; choosing one enables Log outcome.
        outcome.click()
        page.keyboard.type("no ans")
        page.get_by_role("option", name="No answer", exact=True).click()
        expect(log_button).to_be_enabled()
        log_button.click()
        expect(page.get_by_text(re.compile(r"Logged: .+ did not answer\."))).to_be_visible()
        _no_error_on(page)


def test_a_click_on_the_card_after_deactivation_shows_the_login_form(served: Served) -> None:
    """The card is a fragment: its clicks rerun only it, and still re-read the user (SECURITY
    5): deactivated meanwhile, the next click leaves the card for the login form."""
    from playwright.sync_api import expect

    from tests.e2e.support import run

    with _browser() as browser:
        page = _page(browser.new_context(viewport={"width": 1400, "height": 900}))
        _log_in(page, served.url, "gone@e2e.test")
        page.get_by_role("button", name="Next task").click()
        expect(page.get_by_role("button", name="Log outcome")).to_be_visible()
        run(served.world.env, "users", "deactivate", "gone@e2e.test")
        # A click inside the outcome form: a fragment rerun, not a full one.
        page.get_by_test_id("stSelectbox").filter(has_text="Outcome").click()
        page.get_by_role("option", name="No answer", exact=True).click()
        expect(page.get_by_role("button", name="Log in")).to_be_visible()
        expect(page.get_by_role("button", name="Log outcome")).to_have_count(0)
        assert "Calling" not in page.inner_text("body")
        _no_error_on(page)
        page.screenshot(path=str(ARTIFACTS / "shift-deactivated-card-click.png"))


def test_reload_new_tab_and_deep_link_keep_the_session_until_logout(served: Served) -> None:
    from playwright.sync_api import expect

    with _browser() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = _page(context)
        _log_in(page, served.url, "manager@e2e.test")
        expect(page.get_by_role("heading", name="SLA board")).to_be_visible()
        cookies = {c["name"]: c for c in context.cookies()}
        expect(page.get_by_role("button", name="Log out")).to_be_visible()
        cookie = cookies.get("loopdesk_session") or next(
            (c for c in context.cookies() if c["name"] == "loopdesk_session"), None)
        if cookie is None:  # the cookie is set by a background request right after login
            page.wait_for_function("() => true")
            page.reload()
            cookie = next(c for c in context.cookies() if c["name"] == "loopdesk_session")
        assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
        page.reload()
        expect(page.get_by_role("button", name="Log out")).to_be_visible()
        expect(page.get_by_role("heading", name="SLA board")).to_be_visible()
        deep = _page(context)
        deep.goto(served.url + "capacity")
        expect(deep.get_by_role("heading", name="Capacity")).to_be_visible()
        expect(deep.get_by_role("button", name="Log out")).to_be_visible()
        deep.screenshot(path=str(ARTIFACTS / "shift-deep-link-capacity.png"))
        # Logging out in one tab ends the session everywhere.
        page.get_by_role("button", name="Log out").first.click()
        expect(page.get_by_role("button", name="Log in")).to_be_visible()
        deep.reload()
        expect(deep.get_by_role("button", name="Log in")).to_be_visible()
        assert not any(c["name"] == "loopdesk_session" for c in context.cookies())


async def _swapped(page: Any, gone: str, shown: str) -> None:
    from playwright.async_api import expect

    await expect(page.get_by_role("button", name=gone)).to_have_count(0, timeout=TIMEOUT_MS)
    await expect(page.get_by_role("button", name=shown)).to_be_enabled(timeout=TIMEOUT_MS)


async def _race(served: Served) -> list[tuple[int, int]]:
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                   args=CHROMIUM_ARGS)
        try:
            pages = []
            for email in ("ann@e2e.test", "ben@e2e.test"):
                context = await browser.new_context(viewport={"width": 1400, "height": 900})
                page = await context.new_page()
                page.set_default_timeout(TIMEOUT_MS)
                await page.goto(served.url)
                await page.get_by_label("Email", exact=True).fill(email)
                await page.get_by_label("Password", exact=True).fill(PASSWORD)
                await page.get_by_role("button", name="Log in").click()
                await expect(page.get_by_role("button", name="Next task")).to_be_enabled(
                    timeout=TIMEOUT_MS)
                pages.append(page)
            pairs = []
            for _ in range(ROUNDS):
                await asyncio.gather(*(p.get_by_role("button", name="Next task").click()
                                       for p in pages))
                # Settled: the preview's button is gone (a rerun keeps stale elements shown
                # until it ends) and the card's Release button is there.
                await asyncio.gather(*(_swapped(p, "Next task", "Release to queue")
                                       for p in pages))
                for page in pages:
                    assert await page.get_by_test_id("stException").count() == 0
                    assert "locked" not in await page.inner_text("body")
                held = (_held(served, "ann@e2e.test"), _held(served, "ben@e2e.test"))
                assert len(held[0]) == 1 and len(held[1]) == 1, held
                pairs.append((held[0][0], held[1][0]))
                await asyncio.gather(*(p.get_by_role("button", name="Release to queue").click()
                                       for p in pages))
                await asyncio.gather(*(_swapped(p, "Release to queue", "Next task")
                                       for p in pages))
            await pages[0].screenshot(path=str(ARTIFACTS / "shift-race-ann.png"))
            return pairs
        finally:
            await browser.close()


def test_two_coordinators_pressing_next_task_together_get_two_tasks(served: Served) -> None:
    pairs = asyncio.run(_race(served))
    assert len(pairs) == ROUNDS
    assert all(first != second for first, second in pairs)


def test_quiet_hours_disable_next_task_and_say_when_calling_opens(served: Served) -> None:
    from playwright.sync_api import expect

    with _browser() as browser:
        page = _page(browser.new_context(viewport={"width": 1400, "height": 900}))
        _log_in(page, served.url, "night@e2e.test")
        expect(page.get_by_text(re.compile(
            r"calling opens at 08:00 in Tokyo — in 5 h"))).to_be_visible()
        expect(page.get_by_role("button", name="Next task")).to_be_disabled()
        page.screenshot(path=str(ARTIFACTS / "shift-quiet-hours.png"))


def test_call_now_from_leads_opens_that_leads_card(served: Served) -> None:
    from playwright.sync_api import expect

    with _browser() as browser:
        page = _page(browser.new_context(viewport={"width": 1400, "height": 900}))
        _log_in(page, served.url, "leads@e2e.test")
        page.get_by_role("link", name="Leads").click()
        expect(page.get_by_role("heading", name="Leads")).to_be_visible()
        picker = page.get_by_test_id("stSelectbox").filter(has_text="Lead to call")
        picker.click()
        options = page.get_by_role("option")
        expect(options.first).to_be_visible()
        label = options.last.inner_text()
        options.last.click()
        person = label.split(" · ")[0].strip()
        page.screenshot(path=str(ARTIFACTS / "shift-leads.png"), full_page=True)
        page.get_by_role("button", name="Call now").click()
        try:
            expect(page.get_by_role("heading", name="My queue")).to_be_visible(
                timeout=TIMEOUT_MS)
        finally:
            page.screenshot(path=str(ARTIFACTS / "shift-call-now.png"), full_page=True)
        expect(page.get_by_test_id("stMetric").filter(has_text="Calling")).to_contain_text(
            person)
        expect(page.get_by_role("heading", name=re.compile("Contact a referred lead"))
               ).to_be_visible()
        _no_error_on(page)


def _walk(page: Any, served: Served, email: str, titles: list[str]) -> list[str]:
    from playwright.sync_api import expect

    problems = []
    slugs = served.world.slugs
    for title in titles:
        if len(titles) > 1:  # a single page gets no navigation
            page.get_by_role("link", name=title, exact=True).click()
        settle(page)  # the previous page's elements are gone
        heading = (served.world.practices[served.main] if title == "Report"
                   else HEADINGS.get(title, title))
        expect(page.get_by_role("heading", name=heading).first).to_be_visible()
        role = email.split("@")[0]
        name = title.lower().replace(" ", "-")
        page.screenshot(path=str(ARTIFACTS / f"page-{role}-{name}.png"), full_page=True)
        text = page.inner_text("body")
        if re.search(r"\bNone\b", text):
            problems.append(f"{email} {title}: None")
        problems += [f"{email} {title}: slug {slug}" for slug in slugs if slug in text]
        if page.get_by_test_id("stException").count():
            problems.append(f"{email} {title}: error")
        problems += [f"{email} {title}: tile cut: {value}" for value in cut_tiles(page)]
    return problems


def test_every_page_per_role_screenshot_and_no_raw_values(served: Served) -> None:
    problems = []
    with _browser() as browser:
        for email, titles in PAGES_BY_ROLE.items():
            page = _page(browser.new_context(viewport={"width": 1400, "height": 1000}))
            _log_in(page, served.url, email)
            problems += _walk(page, served, email, titles)
    assert problems == []

"""The main flow in a real browser: a coordinator logs `referred`; an owner sees only theirs."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import Served
from tests.e2e.support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, PASSWORD

TIMEOUT_MS = 60_000

pytestmark = pytest.mark.e2e


def log_in(page: object, url: str, email: str) -> None:
    """Log in through the console's form and wait for the signed-in sidebar."""
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto(url)
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible(timeout=TIMEOUT_MS)


def test_coordinator_logs_referred_then_owner_sees_only_their_practice(served: Served) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, practices = served.url, served.world.practices
    slug = served.main
    others = [name for key, name in practices.items() if key != slug]
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000},
                                    accept_downloads=True)
            page.set_default_timeout(TIMEOUT_MS)
            log_in(page, url, "coord@e2e.test")
            expect(page.get_by_role("heading", name="My queue")).to_be_visible()
            page.get_by_role("button", name="Next task").click()
            expect(page.get_by_text("Why first:")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "e2e-1-task-card.png"), full_page=True)
            page.get_by_test_id("stSelectbox").filter(has_text="Outcome").click()
            page.get_by_role("option", name="Referred a friend", exact=True).click()
            page.get_by_label("Lead first name").fill("Robin")
            page.get_by_label("Lead phone").fill("(312) 555-0142")
            page.get_by_role("button", name="Log outcome").click()
            expect(page.get_by_text(re.compile(
                r"Next action created: contact a referred lead"))).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "e2e-2-referred-logged.png"), full_page=True)
            page.get_by_role("button", name="Log out").first.click()
            # Wait for the logout to land (navigating at once could abort the click's message
            # and keep the session, whose cookie would then sign the next load back in).
            expect(page.get_by_role("button", name="Log in")).to_be_visible()

            log_in(page, url, "owner@e2e.test")
            expect(page.get_by_role("heading", name=practices[slug])).to_be_visible()
            expect(page.get_by_text("Referral rate").first).to_be_visible()
            content = page.content()
            assert not any(name in content for name in others)
            page.screenshot(path=str(ARTIFACTS / "e2e-3-owner-report.png"), full_page=True)

            # The owner downloads this month's PDF report, once.
            page.get_by_role("button", name="Prepare this month's PDF").click()
            with page.expect_download() as download_info:
                page.get_by_role("button", name="Download this month's PDF").click()
            download = download_info.value
            target = ARTIFACTS / "e2e-4-owner-report.pdf"
            download.save_as(str(target))
            assert download.suggested_filename.startswith(f"loopdesk-report-{slug}-")
            assert target.read_bytes()[:4] == b"%PDF"
            page.screenshot(path=str(ARTIFACTS / "e2e-4-owner-pdf-ready.png"), full_page=True)
        finally:
            browser.close()

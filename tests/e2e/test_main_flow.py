"""The main flow in a real browser: a coordinator logs `referred`; an owner sees only theirs."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# Thursday 13:00 in New York, 11:00 in Denver: the demo practices are open and callable.
E2E_NOW = "2026-11-26T18:00:00+00:00"
SECRET = "e2e-secret-key-that-is-long-enough-0123456789"
PASSWORD = "e2e password long enough"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LOOPDESK = [str(Path(sys.executable).with_name("loopdesk"))]
TIMEOUT_MS = 60_000

pytestmark = pytest.mark.e2e


def _browser_or_skip() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing: the e2e test must run in CI")
    pytest.skip(f"{CHROMIUM} not installed")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(args: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    done = subprocess.run([*LOOPDESK, *args], env=env, input=stdin, capture_output=True,
                          text=True, check=True, timeout=300)
    return done.stdout


def _asks_first(env: dict[str, str], slug: str) -> None:
    """Set the practice's lead and loop work aside so the coordinator's next call is an ask."""
    code = (
        "from datetime import datetime, timedelta\n"
        "from sqlmodel import select\n"
        "from console.db import session_scope\n"
        "from console.models.work import Task\n"
        "with session_scope() as s:\n"
        f"    for t in s.exec(select(Task).where(Task.practice_slug == {slug!r})"
        ".where(Task.status == 'open').where(Task.kind != 'ask')).all():\n"
        f"        t.snoozed_until = datetime.fromisoformat({E2E_NOW!r}) + timedelta(days=30)\n"
        "        s.add(t)\n"
        "    s.commit()\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """`loopdesk serve` on a free port over a small built world; its URL and practices."""
    _browser_or_skip()
    root = tmp_path_factory.mktemp("e2e")
    env = {**os.environ, "LOOPDESK_HOME": str(root / "home"), "LOOPDESK_NOW": E2E_NOW,
           "LOOPDESK_SECRET_KEY": SECRET}
    env.pop("LOOPDESK_DATABASE_URL", None)
    _run(["generate", "--practices", "3", "--months", "6", "--seed", "7",
          "--out", str(root / "drop")], env)
    _run(["ingest", str(root / "drop")], env)
    _run(["build"], env)
    names = dict(
        line.split(",")[:2]
        for line in (root / "drop" / "practices.csv").read_text().splitlines()[1:]
    )
    slug = sorted(names)[0]
    _asks_first(env, slug)
    _run(["users", "add", "coord@e2e.test", "--role", "coordinator", "--practice", slug], env,
         stdin=PASSWORD + "\n")
    _run(["users", "add", "owner@e2e.test", "--role", "client_owner", "--practice", slug], env,
         stdin=PASSWORD + "\n")
    port = _free_port()
    server = subprocess.Popen([*LOOPDESK, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    listening = threading.Event()
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / "e2e-server.log"

    def drain() -> None:
        # Keep reading the server's log for the whole test: a full pipe would stall the server.
        assert server.stderr is not None
        with log_path.open("w") as log:
            for line in server.stderr:
                log.write(line)
                log.flush()
                if "running on" in line.lower():
                    listening.set()
        listening.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        # Wait on the server's own log line (an event, not a sleep).
        if not listening.wait(timeout=120) or server.poll() is not None:
            pytest.fail(f"loopdesk serve did not start; see {log_path}")
        yield f"http://127.0.0.1:{port}/", {"slug": slug, **names}
    finally:
        server.terminate()
        server.wait(timeout=30)
        reader.join(timeout=30)


def _log_in(page: object, url: str, email: str) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto(url)
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible(timeout=TIMEOUT_MS)


def test_coordinator_logs_referred_then_owner_sees_only_their_practice(
    served: tuple[str, dict[str, str]],
) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, practices = served
    slug = practices["slug"]
    others = [name for key, name in practices.items() if key not in ("slug", slug)]
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000},
                                    accept_downloads=True)
            page.set_default_timeout(TIMEOUT_MS)
            _log_in(page, url, "coord@e2e.test")
            expect(page.get_by_role("heading", name="My queue")).to_be_visible()
            page.get_by_role("button", name="Next task").click()
            expect(page.get_by_text("Why first:")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "e2e-1-task-card.png"), full_page=True)
            page.get_by_test_id("stSelectbox").filter(has_text="Outcome").click()
            page.get_by_role("option", name="referred", exact=True).click()
            page.get_by_label("Lead first name").fill("Robin")
            page.get_by_label("Lead phone").fill("(312) 555-0142")
            page.get_by_role("button", name="Log outcome").click()
            expect(page.get_by_text(re.compile(r"contact_lead task \d+ created"))).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "e2e-2-referred-logged.png"), full_page=True)
            page.get_by_role("button", name="Log out").first.click()

            _log_in(page, url, "owner@e2e.test")
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


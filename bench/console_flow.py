"""Coordinator flow in the real browser: Next task → card, and Log outcome → confirmation.

Builds a demo-sized world (generate → ingest → build), serves it with `loopdesk serve` on a
free loopback port and drives Debian's Chromium with Playwright: first one coordinator alone
(`--rounds` times), then `--sessions` coordinators in separate browser contexts working at
once. Each figure is the time from the click to the new content being visible. Prints the
median and max per step and one JSON line.

How "visible" is detected (`--wait`): `expect` (the default, as the first version of this
script measured) uses Playwright's `expect(...)` assertions, which re-check after 0, 20, 50,
100, 100 and then every 500 ms, so a figure is rounded up to the next check (content shown
after 280 ms reads as ~770 ms); `frame` checks the page on every animation frame
(`page.wait_for_function(..., polling="raf")`), so a figure is the click to the first frame
showing the new content, to within a frame (~16 ms), at the price of running a check in every
frame of every page while it waits (more renderer CPU when 8 pages share the machine). Both
detect the same conditions: the preview's *Next task* button gone and the card's *Log outcome*
button shown; the "Logged: …" sentence shown. `--think-ms` adds a pause before each click (a
person reading the card or the confirmation); the headline figures have none (`--think-ms 0`).
CPU per call (server, Chromium renderers, Chromium's other processes, the driver) is read from
/proc around each phase, so figures taken under different loads can be compared.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from typing import Any

from tests.e2e.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    add_user,
    build_world,
    serving,
)

# Thursday 13:00 in New York: every generated practice is inside calling hours.
NOW = "2026-11-26T18:00:00+00:00"
TIMEOUT_MS = 60_000


async def _log_in(browser: Any, url: str, email: str) -> Any:
    from playwright.async_api import expect

    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    await page.goto(url)
    await page.get_by_label("Email", exact=True).fill(email)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("button", name="Next task")).to_be_enabled(timeout=TIMEOUT_MS)
    return page


# The same conditions as the `expect` waits, checked in the page: a button counts when it is
# rendered (not display:none, visibility:hidden or under aria-hidden), its name as
# Playwright's role query matches it (case-insensitive substring); text counts when rendered.
_SHOWN_JS = """
const shown = (el) => el.checkVisibility({visibilityProperty: true})
    && el.closest('[aria-hidden="true"]') === null;
const buttons = (name) => [...document.querySelectorAll('button, [role="button"]')]
    .filter((el) => shown(el) && (el.getAttribute('aria-label') || el.textContent || '')
        .replace(/\\s+/g, ' ').toLowerCase().includes(name.toLowerCase()));
const boxed = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
"""
CARD_SHOWN = ("() => {" + _SHOWN_JS + "return buttons('Next task').length === 0 "
              "&& buttons('Log outcome').some(boxed); }")
LOGGED_SHOWN = "() => document.body.innerText.includes('Logged: ')"


async def _card_shown(page: Any, wait: str) -> None:
    from playwright.async_api import expect

    if wait == "frame":
        await page.wait_for_function(CARD_SHOWN, polling="raf", timeout=TIMEOUT_MS)
        return
    await expect(page.get_by_role("button", name="Next task")).to_have_count(0,
                                                                             timeout=TIMEOUT_MS)
    await expect(page.get_by_role("button", name="Log outcome")).to_be_visible(
        timeout=TIMEOUT_MS)


async def _logged_shown(page: Any, wait: str) -> None:
    from playwright.async_api import expect

    if wait == "frame":
        await page.wait_for_function(LOGGED_SHOWN, polling="raf", timeout=TIMEOUT_MS)
        return
    await expect(page.get_by_text("Logged: ")).to_be_visible(timeout=TIMEOUT_MS)


async def _round(page: Any, wait: str, think_s: float) -> tuple[float, float]:
    """One call: Next task → card visible; choose an outcome; Log outcome → confirmation."""
    from playwright.async_api import expect

    if think_s:
        await asyncio.sleep(think_s)  # the person reads the confirmation / the queue
    start = time.perf_counter()
    await page.get_by_role("button", name="Next task").click()
    await _card_shown(page, wait)
    card = time.perf_counter() - start
    # The `expect` waits below are not timed; the option list and the enabled button.
    if think_s:
        await asyncio.sleep(think_s)  # the person reads the card and makes the call
    await page.get_by_test_id("stSelectbox").filter(has_text="Outcome").click()
    await page.get_by_role("option", name="No answer", exact=True).click()
    await expect(page.get_by_role("button", name="Log outcome")).to_be_enabled(
        timeout=TIMEOUT_MS)
    start = time.perf_counter()
    await page.get_by_role("button", name="Log outcome").click()
    await _logged_shown(page, wait)
    logged = time.perf_counter() - start
    await expect(page.get_by_role("button", name="Next task")).to_be_enabled(timeout=TIMEOUT_MS)
    return card, logged


async def _choose_no_answer(page: Any) -> None:
    """Choose "No answer" on the card and wait until the log buttons are enabled (untimed)."""
    from playwright.async_api import expect

    await page.get_by_test_id("stSelectbox").filter(has_text="Outcome").click()
    await page.get_by_role("option", name="No answer", exact=True).click()
    await expect(page.get_by_role("button", name="Log outcome")).to_be_enabled(
        timeout=TIMEOUT_MS)


async def _block_log_and_next(page: Any, wait: str, calls: int) -> list[tuple[float, float]]:
    """`calls` calls with Log and take next: Next task → card once, then each call's
    *Log and take next* → the confirmation with the next card (two reruns a call instead of
    three), the block's last call logged with Log outcome (back to the preview). A call's
    figures: (card, log), the card of a chained call being the same click as the log before."""
    from playwright.async_api import expect

    start = time.perf_counter()
    await page.get_by_role("button", name="Next task").click()
    await _card_shown(page, wait)
    card = time.perf_counter() - start
    timings = []
    for number in range(calls):
        await _choose_no_answer(page)
        last = number == calls - 1
        start = time.perf_counter()
        await page.get_by_role("button", name="Log outcome" if last else "Log and take next"
                               ).click()
        await _logged_shown(page, wait)
        if not last:  # the next card: its Log outcome shown and not yet enabled
            await expect(page.get_by_role("button", name="Log outcome")).to_be_disabled(
                timeout=TIMEOUT_MS)
        logged = time.perf_counter() - start
        timings.append((card, logged))
        card = logged
        # Untimed: the rerun is over and the previous card's (stale) form is gone.
        await expect(page.get_by_test_id("stSelectbox").filter(has_text="Outcome")
                     ).to_have_count(0 if last else 1, timeout=TIMEOUT_MS)
    await expect(page.get_by_role("button", name="Next task")).to_be_enabled(timeout=TIMEOUT_MS)
    return timings


async def _compare(url: str, emails: list[str], calls: int, blocks: int,
                   wait: str) -> dict[str, tuple[list[tuple[float, float]], dict[str, float]]]:
    """A/B in one browser: blocks of `calls` calls per session, alternating Log outcome then
    Next task (three reruns a call) with Log and take next (two), CPU read around each block."""
    from playwright.async_api import async_playwright

    flows = ("log_then_next", "log_and_next")
    timings: dict[str, list[tuple[float, float]]] = {flow: [] for flow in flows}
    cpu: dict[str, dict[str, float]] = {flow: {} for flow in flows}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                   args=CHROMIUM_ARGS)
        try:
            pages = await asyncio.gather(*(_log_in(browser, url, e) for e in emails))
            for block in range(2 * blocks):
                # A B, B A, ...: each side as often first as second.
                flow = flows[(block + block // 2) % 2]

                async def shift(page: Any, flow: str = flow) -> list[tuple[float, float]]:
                    if flow == "log_and_next":
                        return await _block_log_and_next(page, wait, calls)
                    return [await _round(page, wait, 0.0) for _ in range(calls)]

                before = _cpu_seconds()
                done = await asyncio.gather(*(shift(page) for page in pages))
                after = _cpu_seconds()
                timings[flow] += [t for one in done for t in one]
                for part in after:
                    cpu[flow][part] = cpu[flow].get(part, 0.0) + after[part] - before[part]
        finally:
            await browser.close()
    out: dict[str, tuple[list[tuple[float, float]], dict[str, float]]] = {}
    for flow in flows:
        n = len(timings[flow])
        out[flow] = (timings[flow], {f"{part}_cpu_ms_per_call": float(round(used * 1000 / n))
                                     for part, used in cpu[flow].items()})
    return out


def _part(command: bytes) -> str:
    """Which part of the bench a process is, by its command line."""
    if b"serve\x00--port" in command:
        return "server"
    if b"--type=renderer" in command:
        return "renderers"
    if b"chromium" in command:
        return "chromium_other"  # the browser, GPU (software) and utility processes
    return "driver"  # Playwright's node driver and this script


def _cpu_seconds() -> dict[str, float]:
    """CPU seconds (user + system) used so far by this script's process tree, by part: the
    server (`loopdesk serve`), Chromium's renderers, Chromium's other processes, the driver."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    parts: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        used[pid] = (int(fields[11]) + int(fields[12])) / ticks
        parts[pid] = _part(command)
    me = os.getpid()

    def mine(pid: int) -> bool:
        while pid > 1:
            if pid == me:
                return True
            pid = parents.get(pid, 0)
        return False

    split = dict.fromkeys(("server", "renderers", "chromium_other", "driver"), 0.0)
    for pid in used:
        if mine(pid):
            split[parts[pid]] += used[pid]
    return split


async def _work(url: str, emails: list[str], rounds: int, wait: str,
                think_s: float) -> tuple[list[tuple[float, float]], dict[str, float]]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                   args=CHROMIUM_ARGS)
        try:
            pages = await asyncio.gather(*(_log_in(browser, url, e) for e in emails))

            async def shift(page: Any) -> list[tuple[float, float]]:
                return [await _round(page, wait, think_s) for _ in range(rounds)]

            before = _cpu_seconds()
            done = await asyncio.gather(*(shift(page) for page in pages))
            after = _cpu_seconds()
        finally:
            await browser.close()
    calls = len(emails) * rounds
    cpu: dict[str, float] = {
        f"{part}_cpu_ms_per_call": round((after[part] - before[part]) * 1000 / calls)
        for part in after}
    return [timing for one in done for timing in one], cpu


def _figures(measured: tuple[list[tuple[float, float]], dict[str, float]]) -> dict[str, Any]:
    timings, cpu = measured
    cards = [c * 1000 for c, _ in timings]
    logs = [log * 1000 for _, log in timings]
    return {"card_median_ms": round(statistics.median(cards)), "card_max_ms": round(max(cards)),
            "log_median_ms": round(statistics.median(logs)), "log_max_ms": round(max(logs)),
            "rounds": len(timings), **cpu,
            "cards_ms": [round(c) for c in cards], "logs_ms": [round(x) for x in logs]}


def main() -> None:
    """Build, serve, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--practices", type=int, default=12, help="practices in the world")
    parser.add_argument("--months", type=int, default=6, help="months of history")
    parser.add_argument("--rounds", type=int, default=10, help="calls per coordinator")
    parser.add_argument("--sessions", type=int, default=8, help="concurrent coordinators")
    parser.add_argument("--wait", choices=("expect", "frame"), default="expect",
                        help="how the new content is detected (see the module docstring)")
    parser.add_argument("--think-ms", type=int, default=0,
                        help="pause before each click, modelling a person (0: none)")
    parser.add_argument("--compare-flows", type=int, default=0, metavar="BLOCKS",
                        help="instead: A/B Log outcome + Next task against Log and take "
                        "next, BLOCKS blocks of --rounds calls a side, --sessions at once")
    args = parser.parse_args()
    if args.compare_flows:
        _main_compare(args)
        return
    with tempfile.TemporaryDirectory() as root:
        world = build_world(Path(root), now=NOW, practices=args.practices, months=args.months)
        emails = [f"bench{i}@agency.test" for i in range(args.sessions)]
        for email in emails:
            add_user(world, email, "coordinator", *world.slugs)
        with serving(world, "bench-console-server.log") as url:
            think = args.think_ms / 1000
            alone = _figures(asyncio.run(_work(url, emails[:1], args.rounds, args.wait, think)))
            together = _figures(asyncio.run(_work(url, emails, args.rounds, args.wait, think)))
    print(f"world: {args.practices} practices x {args.months} months; Chromium, loopback; "
          f"wait={args.wait}, think={args.think_ms} ms")
    for label, figures in (("1 session", alone), (f"{args.sessions} sessions", together)):
        print(f"{label:>11}: Next task -> card median {figures['card_median_ms']} ms, "
              f"max {figures['card_max_ms']} ms; Log outcome -> confirmation median "
              f"{figures['log_median_ms']} ms, max {figures['log_max_ms']} ms "
              f"({figures['rounds']} calls); CPU per call: server "
              f"{figures['server_cpu_ms_per_call']} ms, Chromium renderers "
              f"{figures['renderers_cpu_ms_per_call']} ms, other Chromium "
              f"{figures['chromium_other_cpu_ms_per_call']} ms, driver "
              f"{figures['driver_cpu_ms_per_call']} ms")
    print(json.dumps({"bench": "console_flow", "practices": args.practices, "wait": args.wait,
                      "think_ms": args.think_ms, "single": alone, "concurrent": together,
                      "sessions": args.sessions}))


def _main_compare(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as root:
        world = build_world(Path(root), now=NOW, practices=args.practices, months=args.months)
        emails = [f"bench{i}@agency.test" for i in range(args.sessions)]
        for email in emails:
            add_user(world, email, "coordinator", *world.slugs)
        load = os.getloadavg()[0]
        with serving(world, "bench-console-server.log") as url:
            measured = asyncio.run(_compare(url, emails, args.rounds, args.compare_flows,
                                            args.wait))
    figures = {flow: _figures(m) for flow, m in measured.items()}
    print(f"{args.sessions} sessions, {args.compare_flows} blocks of {args.rounds} calls a "
          f"side, interleaved; load {load:.1f} -> {os.getloadavg()[0]:.1f}")
    for flow, f in figures.items():
        print(f"{flow:>14}: card median {f['card_median_ms']} / max {f['card_max_ms']} ms, "
              f"log median {f['log_median_ms']} / max {f['log_max_ms']} ms ({f['rounds']} "
              f"calls); CPU per call: server {f['server_cpu_ms_per_call']}, renderers "
              f"{f['renderers_cpu_ms_per_call']}, other Chromium "
              f"{f['chromium_other_cpu_ms_per_call']}, driver {f['driver_cpu_ms_per_call']} ms")
    print(json.dumps({"bench": "console_flow_compare", "sessions": args.sessions,
                      "figures": figures}))


if __name__ == "__main__":
    main()

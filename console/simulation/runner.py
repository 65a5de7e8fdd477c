"""Running policies over a world: one worker process per policy, each in a throwaway home.

A worker (`python -m console.simulation.worker`) gets the world as JSON on stdin, runs one
policy with the settings pointing at its own temporary data home (never the caller's store),
reports progress as JSON lines on stderr and prints its figures as JSON on stdout. Policies
run side by side, as many at once as the machine has cores. The caller's process never changes
its own environment, so the console can run a simulation from a background thread.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from console.platform.errors import UserError
from console.simulation.policies import POLICIES
from console.simulation.world import World
from loopdesk_core.settings import isolated_environment

Progress = Callable[[float, str], None]


class SimulationFailed(UserError):
    """A worker process failed (its last error line is the message)."""


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 4)


def run_one(world: World, policy: str, progress: Progress | None = None,
            diagnostics: dict[str, Any] | None = None,
            shared: Path | None = None) -> dict[str, Any]:
    """Run one policy in a worker process and a fresh temporary home; its figures.

    `diagnostics`, when given, receives the worker's CPU seconds per phase. `shared`: a
    folder the workers of the other policies of this world share (engine.SharedNights).
    """
    home = Path(tempfile.mkdtemp(prefix="loopdesk-sim-", dir=_scratch()))
    try:
        if world.source == "agency" and world.raw_store:
            copy_raw_store(Path(world.raw_store), home / "warehouse" / "raw.duckdb")
        start = datetime.combine(world.start_date, time(0), tzinfo=UTC) - timedelta(days=1)
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [sys.executable, "-m", "console.simulation.worker", policy,
             *([str(shared)] if shared is not None else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=isolated_environment(home=home, now=start), cwd=home,
        )
        assert process.stdin is not None and process.stderr is not None
        process.stdin.write(json.dumps(world.to_json()))
        process.stdin.close()
        last_error = ""
        for line in process.stderr:
            try:
                report = json.loads(line)
            except json.JSONDecodeError:
                last_error = line.strip() or last_error
                continue
            if diagnostics is not None and isinstance(report, dict) and "diagnostics" in report:
                diagnostics.update(report["diagnostics"])
            if progress is not None and isinstance(report, dict) and "fraction" in report:
                progress(float(report["fraction"]), str(report["message"]))
        output = process.stdout.read() if process.stdout is not None else ""
        if process.wait() != 0:
            raise SimulationFailed(f"the {policy} simulation failed: {last_error or 'no output'}")
        return dict(json.loads(output))
    finally:
        shutil.rmtree(home, ignore_errors=True)


SCRATCH_MIN_FREE = 2 << 30  # bytes /dev/shm must have free to hold the homes


def _scratch() -> str | None:
    """Where the throwaway homes go: memory-backed /dev/shm when there is one with room (the
    stores are deleted afterwards, so nothing needs to reach the disk), else the system's temp
    folder (e.g. in a container whose /dev/shm is a few MB)."""
    shm = Path("/dev/shm")  # noqa: S108 (a private mkdtemp folder inside it)
    try:
        roomy = shutil.disk_usage(shm).free >= SCRATCH_MIN_FREE and os.access(shm, os.W_OK)
    except OSError:
        return None
    return str(shm) if roomy else None


def copy_raw_store(source: Path, target: Path) -> None:
    """Copy the agency's raw store (its ingested exports) into a simulation home, read-only."""
    import duckdb

    target.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(target)) as conn:
        quoted = str(source).replace("'", "''")
        conn.execute(f"attach '{quoted}' as agency (read_only)")
        conn.execute(f"copy from database agency to {target.stem}")
        conn.execute("detach agency")


def simulate(world: World, policies: Sequence[str] = POLICIES,
             progress: Progress | None = None, parallel: int | None = None,
             diagnostics: dict[str, Any] | None = None) -> dict[str, Any]:
    """The simulate document: the world and each policy's figures, with priority's ratios.

    `diagnostics`, when given, receives each policy's CPU seconds per phase (bench only).

    `parallel` caps the worker processes running at once (default: one per policy, all at
    once — with three policies on two cores the run takes the sum of their CPU time over the
    cores, not two rounds of the slowest).
    """
    unknown = [name for name in policies if name not in POLICIES]
    if unknown:
        raise UserError(f"unknown policy {unknown[0]!r} (choose from {', '.join(POLICIES)})")
    chosen = list(dict.fromkeys(policies))
    done = dict.fromkeys(chosen, 0.0)
    lock = threading.Lock()

    def step(policy: str) -> Progress:
        def report(fraction: float, message: str) -> None:
            if progress is not None:
                with lock:
                    done[policy] = fraction
                    progress(sum(done.values()) / len(chosen), message)
        return report

    # One worker process per policy, all at once unless capped (each is single-threaded and
    # the operating system shares the cores; the results do not depend on the order they
    # finish in). A generated world's exports and nightly ingests are the same for every
    # policy: the workers share them (engine.SharedNights), each made by whichever gets there
    # first.
    shared = (Path(tempfile.mkdtemp(prefix="loopdesk-sim-shared-", dir=_scratch()))
              if len(chosen) > 1 and world.source != "agency" else None)
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(len(chosen),
                                                       parallel or len(chosen)))) as pool:
            extra: dict[str, dict[str, Any]] = {policy: {} for policy in chosen}
            futures = {policy: pool.submit(run_one, world, policy, step(policy), extra[policy],
                                           shared)
                       for policy in chosen}
            results: dict[str, Any] = {policy: futures[policy].result() for policy in chosen}
    finally:
        if shared is not None:
            shutil.rmtree(shared, ignore_errors=True)
    if diagnostics is not None:
        diagnostics.update(extra)
    prio = results.get("priority")
    if prio is not None:
        key = "booked_revenue_per_coordinator_hour"
        prio["ratio_to_fifo"] = _ratio(prio[key], results.get("fifo", {}).get(key))
        prio["ratio_to_oracle"] = _ratio(prio[key], results.get("oracle", {}).get(key))
    return {"world": world.to_json(), "policies": results}

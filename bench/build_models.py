"""Benchmark: one full build (`build --full`) on a home that is already ingested, CPU-s per model.

Run `bench/pipeline.py` (or an ingest) first; then, with the same home:
    LOOPDESK_HOME=/tmp/x/home .venv/bin/python -P bench/build_models.py
The contact index is written after the models instead of beside them (its thread would share
the models' CPU figures), so each model's CPU-s (process user + sys, DuckDB's threads included)
is its own. Prints one line per model (slowest first) and one JSON line of totals.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py is named like the stdlib `queue`: keep this folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

FIXED_NOW = "2026-11-26T15:00:00+00:00"


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Timings:
    """CPU-s and wall-s per step, from one step's end to the next's."""

    def __init__(self) -> None:
        self.cpu = _cpu_s()
        self.wall = time.perf_counter()
        self.steps: list[tuple[str, float, float]] = []

    def mark(self, name: str) -> None:
        cpu, wall = _cpu_s(), time.perf_counter()
        self.steps.append((name, cpu - self.cpu, wall - self.wall))
        self.cpu, self.wall = cpu, wall

    def timed(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.mark("(between)")
            try:
                return func(*args, **kwargs)
            finally:
                self.mark(name)

        return wrapper


def main() -> None:
    """Run one full build and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--label", default="", help="a name for this run in the JSON line")
    args = parser.parse_args()
    if "LOOPDESK_HOME" not in os.environ:
        raise SystemExit("set LOOPDESK_HOME to an ingested home")
    os.environ.setdefault("LOOPDESK_NOW", FIXED_NOW)

    from loopdesk_core.clock import now
    from warehouse import snapshot
    from warehouse.runner import ModelRun

    timings = _Timings()
    # The index after the models, timed on its own (see the docstring).
    snapshot._IndexWriter.SOURCE = "\0none"
    snapshot.write_index = timings.timed("(contact index)", snapshot.write_index)
    snapshot.run_checks = timings.timed("(checks)", snapshot.run_checks)

    def after_model(run: ModelRun) -> None:
        timings.mark(run.name)

    load_start = os.getloadavg()[0]
    started, cpu = time.perf_counter(), _cpu_s()
    published = snapshot.publish_snapshot(as_of=now(), full=True, after_model=after_model)
    timings.mark("(publish, checkpoint, rest)")
    total_wall, total_cpu = time.perf_counter() - started, _cpu_s() - cpu
    merged: dict[str, list[float]] = {}
    for name, step_cpu, step_wall in timings.steps:
        seen = merged.setdefault(name, [0.0, 0.0])
        seen[0] += step_cpu
        seen[1] += step_wall
    for name, (step_cpu, step_wall) in sorted(merged.items(), key=lambda item: -item[1][0]):
        if step_cpu >= 0.05:
            print(f"{name:45s} {step_cpu:7.2f} CPU-s {step_wall:7.2f} s")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "label": args.label,
                "mode": published.mode,
                "build_s": round(total_wall, 2),
                "build_cpu_s": round(total_cpu, 2),
                "peak_rss_mb": round(peak_mb),
                "load_start": round(load_start, 1),
                "load_end": round(os.getloadavg()[0], 1),
                "cpu_s": {name: round(v[0], 2) for name, v in merged.items()},
            }
        )
    )


if __name__ == "__main__":
    main()

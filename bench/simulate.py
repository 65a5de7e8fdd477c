"""Benchmark: the agency simulator over the default world and two more (docs/simulation.md).

Runs `fifo`, `priority` (the learned queue as shipped) and `oracle` over each world file and
prints, per world, booked referred revenue per coordinator-hour, priority's ratios to fifo
and oracle, lead first contact within SLA, the worst practice against its contracted hours
and the wall time; then one JSON line. Targets (docs/benchmarks.md): priority ≥ 1.5× fifo
and ≥ 90 % of oracle, lead contact within SLA ≥ 95 %, no practice > 10 % below its hours.
Run the worlds one at a time on a shared machine: `--world docs/worlds/evening.toml`.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py is named like the stdlib `queue`: keep this folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

from console.simulation.runner import simulate  # noqa: E402
from console.simulation.world import load_world  # noqa: E402

WORLDS = Path(__file__).resolve().parents[1] / "docs" / "worlds"


def _targets(prio: dict[str, Any]) -> dict[str, bool | None]:
    fifo, oracle = prio.get("ratio_to_fifo"), prio.get("ratio_to_oracle")
    lead, worst = prio.get("lead_contact_within_sla"), prio.get("worst_hours_deviation")
    return {
        "fifo_x1.5": None if fifo is None else fifo >= 1.5,
        "oracle_90pct": None if oracle is None else oracle >= 0.9,
        "lead_sla_95pct": None if lead is None else lead >= 0.95,
        "hours_within_10pct": None if worst is None else worst >= -0.10,
    }


def _digest(figures: dict[str, Any]) -> str:
    """The first 12 hex digits of the SHA-256 of a policy's document (keys sorted), without
    priority's ratios to the others (which the others' figures decide)."""
    kept = {key: value for key, value in figures.items() if not key.startswith("ratio_to_")}
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:12]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world", type=Path, action="append",
                        help="world file (repeatable; default: docs/worlds/*.toml)")
    args = parser.parse_args()
    worlds = args.world or sorted(WORLDS.glob("*.toml"))
    out: dict[str, Any] = {"bench": "simulate", "worlds": {}}
    for path in worlds:
        world = load_world(path)
        started = time.perf_counter()
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        diagnostics: dict[str, Any] = {}
        document = simulate(world, diagnostics=diagnostics)
        seconds = time.perf_counter() - started
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # CPU seconds of the worker processes (user + system), less load-sensitive than wall.
        cpu = (cpu_after.ru_utime - cpu_before.ru_utime
               + cpu_after.ru_stime - cpu_before.ru_stime)
        load = os.getloadavg()
        policies = document["policies"]
        prio = policies["priority"]
        print(f"{path.name}: {world.practices.count} practices, "
              f"{world.agency.coordinators} coordinators, {world.days} days "
              f"({world.warm_up} warm-up) in {seconds:.0f} s wall, {cpu:.0f} CPU-s of workers, "
              f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
        for name, figures in policies.items():
            revenue = figures["booked_revenue_per_coordinator_hour"]
            print(f"  {name:9s} revenue/coord-h ${revenue:>8,.0f}"
                  f"  leads/coord-h {figures['leads_per_coordinator_hour']:.3f}"
                  f"  lead SLA {figures['lead_contact_within_sla'] or 0:.1%}"
                  f" ({figures['lead_sla_out_of_reach']} due before the team's next hour;"
                  f" {figures['lead_contact_within_sla_in_reach'] or 0:.1%} of the others)"
                  f"  worst hours {figures['worst_hours_deviation'] or 0:+.1%}"
                  f"  ({figures['worst_hours_practice']})  calls {figures['calls']}")
        for name, figures in policies.items():
            print(f"  {name:9s} busy {figures['busy_share'] or 0:.1%} of calling hours, "
                  f"bookings by source {figures['booked_by_source']}, CPU-s by phase "
                  f"{diagnostics.get(name, {}).get('cpu_seconds_by_phase')}")
            rows = figures.get("hours", [])
            print(f"  {name:9s} hours delivered: calls "
                  f"{sum(r.get('call_hours', 0) for r in rows):.1f} h + other work "
                  f"{sum(r.get('other_work_hours', 0) for r in rows):.1f} h of "
                  f"{sum(r['contracted_hours'] for r in rows):.1f} h contracted (other work "
                  f"{figures.get('other_work_share') or 0:.1%} of calling hours); per practice "
                  + ", ".join(f"{r['practice']} {r.get('call_hours', 0):.1f}+"
                              f"{r.get('other_work_hours', 0):.1f}/{r['contracted_hours']:.1f}"
                              for r in rows))
            extra = diagnostics.get(name, {})
            print(f"  {name:9s} steps {extra.get('steps_by_phase')}, SQL statements "
                  f"{extra.get('statements_by_phase')}, nightly builds "
                  f"{extra.get('nightly_builds')}, nightly ingests "
                  f"{extra.get('nightly_ingests')}")
        # A digest of each policy's whole document (timings are diagnostics, never in it):
        # equal digests = equal figures, to compare a change against base.
        digests = {name: _digest(figures) for name, figures in policies.items()}
        print(f"  digests {digests}")
        print(f"  priority / fifo {prio['ratio_to_fifo']}  priority / oracle "
              f"{prio['ratio_to_oracle']}  targets {_targets(prio)}")
        out["worlds"][path.stem] = {
            "seconds": round(seconds, 1),
            "cpu_seconds": round(cpu, 1),
            "diagnostics": diagnostics,
            "load_average": [round(x, 2) for x in load],
            "policies": {name: {key: value for key, value in figures.items() if key != "hours"}
                         for name, figures in policies.items()},
            "targets": _targets(prio),
            "digests": digests,
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()

"""Ingest memory benchmark: peak RSS of one `loopdesk ingest` for drops of 1x, 2x, 4x a size.

Each size is a generated drop (`--practices` times 1, 2, 4, same `--months`), ingested into a
fresh home by a child process whose own peak RSS (getrusage of that child alone) is
reported next to the drop's bytes on disk and its largest file. Prints a table and one JSON
line. Small by default: `python bench/ingest_memory.py --practices 8 --months 12`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

NOW = "2026-11-26T15:00:00+00:00"
SECRET = "bench-secret-key-that-is-long-enough-0123456789"  # noqa: S105 (a throwaway home)
# The child reports its own peak RSS (KB on Linux) after the ingest, on its last stdout line.
CHILD = (
    "import resource, sys\n"
    "sys.argv = ['loopdesk', 'ingest', sys.argv[1]]\n"
    "from console.cli import main\n"
    "try:\n    main()\nexcept SystemExit:\n    pass\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
)
BASELINE = (
    "import resource, pipelines.ingest, console.cli\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
)


def _env(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LOOPDESK_")}
    return env | {"LOOPDESK_HOME": str(home), "LOOPDESK_NOW": NOW, "LOOPDESK_SECRET_KEY": SECRET}


def _child_kb(code: str, args: list[str], env: dict[str, str]) -> int:
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                          text=True, check=True, timeout=3600)
    return int(done.stdout.strip().splitlines()[-1])


def _files(drop: Path) -> list[Path]:
    return [p for p in drop.rglob("*") if p.is_file()]


def main() -> None:
    """Generate, ingest, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--practices", type=int, default=8, help="practices at 1x (default 8)")
    parser.add_argument("--months", type=int, default=12, help="months of history (default 12)")
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args()
    from datetime import datetime

    from pipelines.generate import generate_exports

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        base_env = _env(Path(scratch) / "baseline-home")
        baseline_mb = _child_kb(BASELINE, [], base_env) / 1024
        for factor in (1, 2, 4):
            drop = Path(scratch) / f"drop-{factor}x"
            generate_exports(drop, practices=options.practices * factor, seed=options.seed,
                             months=options.months, now=datetime.fromisoformat(NOW))
            files = _files(drop)
            size_mb = sum(p.stat().st_size for p in files) / 1e6
            largest_mb = max(p.stat().st_size for p in files) / 1e6
            env = _env(Path(scratch) / f"home-{factor}x")
            peak_mb = _child_kb(CHILD, [str(drop)], env) / 1024
            rows.append({"factor": factor, "practices": options.practices * factor,
                         "drop_mb": round(size_mb, 1), "largest_file_mb": round(largest_mb, 2),
                         "peak_rss_mb": round(peak_mb, 1),
                         "over_baseline_per_drop_mb": round((peak_mb - baseline_mb) / size_mb, 1)})
    print(f"ingest peak RSS (imports alone: {baseline_mb:.0f} MB; load {os.getloadavg()[0]:.1f})")
    for row in rows:
        print(f"  {row['factor']}x  {row['practices']:>4} practices  drop {row['drop_mb']:>7.1f} MB"
              f"  largest file {row['largest_file_mb']:>6.2f} MB"
              f"  peak {row['peak_rss_mb']:>7.1f} MB"
              f"  ({row['over_baseline_per_drop_mb']}x the drop over the baseline)")
    print(json.dumps({"bench": "ingest_memory", "baseline_mb": round(baseline_mb, 1),
                      "months": options.months, "runs": rows}))


if __name__ == "__main__":
    main()

"""A simulation worker: `python -m console.simulation.worker POLICY [SHARED]` (world JSON on
stdin).

Run by runner.py with the settings pointing at a throwaway home; prints the policy's figures
as JSON on stdout and progress as JSON lines on stderr. `SHARED`: a folder the other policies'
workers of the same world share (engine.SharedNights: exports and nightly ingests made once).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from console.simulation.engine import run_policy
from console.simulation.world import parse_world
from loopdesk_core.settings import get_settings


def _progress(fraction: float, message: str) -> None:
    sys.stderr.write(json.dumps({"fraction": round(fraction, 4), "message": message}) + "\n")
    sys.stderr.flush()


def main() -> None:
    """Run the policy named on the command line over the world read from stdin."""
    policy = sys.argv[1]
    shared = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    world = parse_world(json.loads(sys.stdin.read()), internal=True)
    diagnostics: dict[str, object] = {}
    result = run_policy(world, policy, get_settings().resolved_home, _progress, diagnostics,
                        shared=shared)
    sys.stderr.write(json.dumps({"diagnostics": diagnostics}) + "\n")
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()

"""A simulation worker: `python -m console.simulation.worker POLICY` (world JSON on stdin).

Run by runner.py with the settings pointing at a throwaway home; prints the policy's figures
as JSON on stdout and progress as JSON lines on stderr.
"""

from __future__ import annotations

import json
import sys

from console.simulation.engine import run_policy
from console.simulation.world import parse_world
from loopdesk_core.settings import get_settings


def _progress(fraction: float, message: str) -> None:
    sys.stderr.write(json.dumps({"fraction": round(fraction, 4), "message": message}) + "\n")
    sys.stderr.flush()


def main() -> None:
    """Run the policy named on the command line over the world read from stdin."""
    policy = sys.argv[1]
    world = parse_world(json.loads(sys.stdin.read()), internal=True)
    diagnostics: dict[str, object] = {}
    result = run_policy(world, policy, get_settings().resolved_home, _progress, diagnostics)
    sys.stderr.write(json.dumps({"diagnostics": diagnostics}) + "\n")
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()

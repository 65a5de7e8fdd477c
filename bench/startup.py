"""Start-up benchmark: wall time of `loopdesk --help`, `inbound`, `claim` and `log`.

An SMS webhook runs `loopdesk inbound` once per message and scripts run `claim`/`log` per
call, so the time before a command does anything matters. Sets up a small built home (one
generated practice, one coordinator), then runs each command `--runs` times in a fresh
process and prints the median and spread of wall time, the median CPU seconds (user + system
of the child: steadier than wall time on a loaded machine, and about what the wall time is on
a quiet one), and one JSON line.

`--source DIR` measures another checkout of the code (e.g. `git archive main | tar -x -C
/tmp/before`) with this environment's interpreter: its folder is put first on PYTHONPATH.

The measured code is byte-compiled first (`compileall`), as an installed package is: where
PYTHONDONTWRITEBYTECODE is set (as on the shared machine) a checkout would otherwise compile
its ~100 modules from source on every call. `--no-compile` leaves the bytecode as it is.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NOW = "2026-11-26T18:00:00+00:00"  # Thursday 13:00 in New York: practices are open
SECRET = "bench-secret-key-that-is-long-enough-0123456789"  # noqa: S105 (a throwaway home)
RUNNER = "import sys; sys.argv[0] = 'loopdesk'; from console.cli import main; main()"
PACKAGES = ("loopdesk_core", "warehouse", "pipelines", "console")


def _env(home: Path, source: Path | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LOOPDESK_")}
    env |= {"LOOPDESK_HOME": str(home), "LOOPDESK_NOW": NOW, "LOOPDESK_SECRET_KEY": SECRET}
    if source is not None:
        env["PYTHONPATH"] = str(source)
    return env


CPU: list[float] = []  # CPU seconds of each child, in run order


def _compile(root: Path) -> None:
    """Write the bytecode of the code measured, as installing it would."""
    for package in PACKAGES:
        if not compileall.compile_dir(root / package, quiet=1):
            raise SystemExit(f"cannot byte-compile {root / package}")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(args: list[str], env: dict[str, str], stdin: str | None = None) -> tuple[float, str]:
    # -P and a neutral working folder: the code measured is the installed one or --source,
    # never whatever checkout the benchmark happens to be started from.
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-P", "-c", RUNNER, *args], env=env, input=stdin,
                          capture_output=True, text=True, check=False, timeout=600,
                          cwd=env["LOOPDESK_HOME"].rsplit("/", 1)[0])
    elapsed = time.perf_counter() - started
    CPU.append(_children_cpu() - cpu)
    if done.returncode not in (0, 1):
        raise SystemExit(f"loopdesk {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
    return elapsed, done.stdout


def _setup(home: Path, env: dict[str, str]) -> None:
    drop = home.parent / "drop"
    _run(["generate", "--practices", "3", "--months", "6", "--seed", "11", "--out", str(drop)],
         env)
    _run(["ingest", str(drop)], env)
    _run(["build"], env)
    practices = [arg for p in sorted(drop.iterdir()) if p.is_dir()
                 for arg in ("--practice", p.name)]
    _run(["users", "add", "bench@agency.test", "--role", "coordinator", *practices],
         env, stdin="a long enough bench password\n")


def _claim(env: dict[str, str]) -> tuple[float, int | None]:
    elapsed, out = _run(["claim", "--as", "bench@agency.test", "--json"], env)
    task = json.loads(out) if out.strip() else None
    return elapsed, (task or {}).get("task_id")


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs per command (default 10)")
    parser.add_argument("--source", type=Path, default=None, help="another checkout to time")
    parser.add_argument("--no-compile", action="store_true",
                        help="do not byte-compile the measured code first")
    options = parser.parse_args()
    if not options.no_compile:
        _compile(options.source or Path(__file__).resolve().parent.parent)
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        env = _env(home, options.source)
        _setup(home, env)
        times: dict[str, list[float]] = {"--help": [], "inbound": [], "claim": [], "log": []}
        cpu: dict[str, list[float]] = {command: [] for command in times}
        for run in range(options.runs):
            times["--help"].append(_run(["--help"], env)[0])
            cpu["--help"].append(CPU[-1])
            times["inbound"].append(_run(["inbound", "--channel", "sms", "--from",
                                          f"+1312555{run:04d}", "--text", "thanks"], env)[0])
            cpu["inbound"].append(CPU[-1])
            elapsed, _ = _claim(env)
            times["claim"].append(elapsed)
            cpu["claim"].append(CPU[-1])
            _, task_id = _claim(env)  # a task held for the timed `log`
            if task_id is None:
                raise SystemExit("nothing left to claim: make the world bigger")
            times["log"].append(_run(["log", str(task_id), "--as", "bench@agency.test",
                                      "--disposition", "no_answer", "--minutes", "1"], env)[0])
            cpu["log"].append(CPU[-1])
    label = str(options.source) if options.source else "this checkout"
    if options.no_compile:
        label += ", bytecode as found"
    print(f"start-up of loopdesk commands ({label}, {options.runs} runs each, wall seconds)")
    figures, cpu_figures = {}, {}
    for command, values in times.items():
        median = statistics.median(values)
        figures[command] = round(median, 3)
        cpu_figures[command] = round(statistics.median(cpu[command]), 3)
        print(f"  {command:<8} median {median:.3f}  min {min(values):.3f}  max {max(values):.3f}"
              f"  cpu {cpu_figures[command]:.3f}")
    load = os.getloadavg()[0]
    print(f"  load average at the end: {load:.2f}")
    print(json.dumps({"bench": "startup", "source": label, "runs": options.runs,
                      "median_s": figures, "median_cpu_s": cpu_figures,
                      "load_average": round(load, 2)}))


if __name__ == "__main__":
    main()

"""Pipeline benchmark: generate, bare DuckDB read (the floor), full ingest, build, incremental.

Prints figures and one JSON line. Run small with `--practices 20 --years 1`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import polars as pl

FIXED_NOW = "2026-11-26T15:00:00+00:00"


def _peak_rss_mb() -> float:
    """Peak resident set size of this process and its children, in MB (Linux: KB units)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


class _RssSampler:
    """Peak resident set size per named stage, sampled from /proc (DuckDB and Arrow memory
    included, which tracemalloc cannot see)."""

    def __init__(self) -> None:
        self.stage = "start"
        self.peaks: dict[str, float] = {}
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                with open("/proc/self/status", encoding="ascii") as handle:
                    kb = next(int(line.split()[1]) for line in handle if line.startswith("VmRSS"))
            except (OSError, StopIteration):
                return
            self.peaks[self.stage] = max(self.peaks.get(self.stage, 0.0), kb / 1024)
            time.sleep(0.02)


def _cpu_s() -> float:
    """CPU seconds (user + system, all threads) used by this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _bare_read(out: Path) -> tuple[float, float]:
    """Seconds (wall, CPU) for DuckDB to read every practice file as text: the floor for ingest."""
    started, cpu = time.perf_counter(), _cpu_s()
    with duckdb.connect() as connection:
        for name in ("patients", "treatments", "referrals"):
            pattern = str(out / "*" / f"{name}.csv")
            connection.execute(
                f"select count(*) from read_csv('{pattern}', all_varchar = true)"
            ).fetchall()
    return time.perf_counter() - started, _cpu_s() - cpu


def _table_read(out: Path) -> tuple[float, float]:
    """Seconds (wall, CPU) to read the same files as text INTO in-memory DuckDB tables.

    A second, fairer floor: ingest has to materialise every value, which `count(*)` does not.
    """
    started, cpu = time.perf_counter(), _cpu_s()
    with duckdb.connect() as connection:
        for name in ("patients", "treatments", "referrals"):
            pattern = str(out / "*" / f"{name}.csv")
            connection.execute(
                f"create table {name} as select * from "
                f"read_csv('{pattern}', all_varchar = true, filename = true)"
            )
    return time.perf_counter() - started, _cpu_s() - cpu


def _daily_drop(out: Path, drop: Path, slug: str) -> int:
    """A one-practice drop of ~200 rows: recent rows of each file, a few of them changed."""
    folder = drop / slug
    folder.mkdir(parents=True)
    rows = 0
    for name, take in (("patients.csv", 80), ("treatments.csv", 80), ("referrals.csv", 40)):
        frame = pl.read_csv(out / slug / name, infer_schema=False).tail(take)
        if name == "patients.csv":
            frame = frame.with_columns(satisfaction_score=pl.lit("10"))
        frame.write_csv(folder / name)
        rows += frame.height
    return rows


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--practices", type=int, default=1000)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep WORKDIR/exports when it exists (generated before with the same options)",
    )
    parser.add_argument(
        "--batch-practices",
        type=int,
        default=1000,
        help="generate a bigger world this many practices at a time (bounded memory)",
    )
    parser.add_argument(
        "--format",
        choices=("canonical", "fhir", "opendental"),
        default="canonical",
        help="ingest the same world written in this source format (the floor is always the "
        "bare read of its canonical CSVs)",
    )
    args = parser.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="loopdesk-bench-"))
    # The bench is a separate program: it configures the one settings object via its env.
    os.environ["LOOPDESK_HOME"] = str(work / "home")
    os.environ.setdefault("LOOPDESK_NOW", FIXED_NOW)
    from loopdesk_core.clock import now
    from pipelines.generate import generate_exports
    from pipelines.ingest import ingest

    out = work / "exports"
    reuse = args.reuse and (out / "practices.csv").exists()
    if not reuse:
        shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(work / "home", ignore_errors=True)
    figures: dict[str, object] = {
        "practices": args.practices,
        "years": args.years,
        "format": args.format,
        "load_average_start": round(os.getloadavg()[0], 1),
    }
    sampler = _RssSampler()

    if not reuse:
        sampler.stage = "generate"
        started = time.perf_counter()
        generated = generate_exports(
            out, practices=args.practices, seed=args.seed, months=12 * args.years, now=now(),
            batch_practices=args.batch_practices,
        )
        figures["generate_s"] = round(time.perf_counter() - started, 2)
        figures["rows"] = {
            "patients": generated.patients,
            "treatments": generated.treatments,
            "referrals": generated.referrals,
        }
    sampler.stage = "floors (bare read, table read)"
    wall, cpu = _bare_read(out)
    figures["bare_read_s"], figures["bare_read_cpu_s"] = round(wall, 2), round(cpu, 2)
    wall, cpu = _table_read(out)
    figures["table_read_s"], figures["table_read_cpu_s"] = round(wall, 2), round(cpu, 2)

    source = out
    if args.format != "canonical":
        source = work / f"exports-{args.format}"
        shutil.rmtree(source, ignore_errors=True)
        started = time.perf_counter()
        generate_exports(
            source,
            practices=args.practices,
            seed=args.seed,
            months=12 * args.years,
            now=now(),
            format=args.format,
        )
        figures["generate_format_s"] = round(time.perf_counter() - started, 2)
    sampler.stage = "ingest"
    started, cpu = time.perf_counter(), _cpu_s()
    summary = ingest(source)
    figures["ingest_s"] = round(time.perf_counter() - started, 2)
    figures["ingest_cpu_s"] = round(_cpu_s() - cpu, 2)
    figures["ingest_rows_in"] = summary.totals()["rows_in"]
    figures["ingest_quarantined"] = summary.totals()["quarantined"]
    figures["ingest_filtered"] = summary.totals()["filtered"]

    if importlib.util.find_spec("pipelines.build") is not None:
        from pipelines.build import run_build

        sampler.stage = "build"
        started, cpu = time.perf_counter(), _cpu_s()
        built = run_build()
        figures["build_mode"] = built.to_json().get("mode", "full")
        figures["build_s"] = round(time.perf_counter() - started, 2)
        figures["build_cpu_s"] = round(_cpu_s() - cpu, 2)

    if args.format == "canonical":
        sampler.stage = "incremental"
        drop = work / "daily"
        shutil.rmtree(drop, ignore_errors=True)
        slug = sorted(p.name for p in out.iterdir() if p.is_dir())[0]
        figures["incremental_rows"] = _daily_drop(out, drop, slug)
        started, cpu = time.perf_counter(), _cpu_s()
        incremental = ingest(drop, practice=slug)
        figures["incremental_ingest_s"] = round(time.perf_counter() - started, 2)
        figures["incremental_updated"] = incremental.totals()["updated"]
        if importlib.util.find_spec("pipelines.build") is not None:
            rebuilt = run_build()
            figures["incremental_build_mode"] = rebuilt.to_json().get("mode", "full")
        # One practice's drop, start to finish: ingest + build + publish.
        figures["incremental_s"] = round(time.perf_counter() - started, 2)
        figures["incremental_cpu_s"] = round(_cpu_s() - cpu, 2)
    figures["process_peak_rss_mb"] = round(_peak_rss_mb())
    stages = {k: round(v) for k, v in sampler.peaks.items()}
    figures["peak_rss_mb_by_stage"] = stages
    # The pipeline's own peak: the floors' in-memory tables (bare read) are the bench's, not
    # the pipeline's (at 10,000 practices the table-read floor alone holds ~8.7 GB).
    figures["peak_rss_mb"] = max(
        (v for k, v in stages.items() if k in ("ingest", "build", "incremental")), default=0
    )
    figures["load_average_end"] = round(os.getloadavg()[0], 1)
    timings = {k: v for k, v in figures.items() if isinstance(v, float)}
    full = timings["ingest_s"] + timings.get("build_s", 0.0)
    figures["ingest_plus_build_over_bare"] = round(full / max(timings["bare_read_s"], 1e-9), 2)
    # Wall times swing with machine load; CPU seconds are the steadier comparison.
    full_cpu = timings["ingest_cpu_s"] + timings.get("build_cpu_s", 0.0)
    figures["cpu_over_bare_cpu"] = round(full_cpu / max(timings["bare_read_cpu_s"], 1e-9), 2)
    figures["ingest_plus_build_over_table_read"] = round(
        full / max(timings["table_read_s"], 1e-9), 2
    )

    for key, value in figures.items():
        print(f"{key:>30}: {value}")
    print(json.dumps({"bench": "pipeline", **figures}))


if __name__ == "__main__":
    main()

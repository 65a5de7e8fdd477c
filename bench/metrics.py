"""Benchmark: time compute_metrics (and the boards) for every practice of a scale snapshot.

Builds a data set under --home (generate → ingest → build; --reuse keeps the last snapshot), with
synthetic operational events (ask calls and their tasks) so asks, SLAs and hours are non-trivial,
then times the read side. Prints figures and one JSON line.
Target: compute_metrics for all 1,000 practices in <= 5 s after a build.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py is named like the stdlib `queue`: keep this folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import UTC, date, datetime, timedelta  # noqa: E402

import duckdb  # noqa: E402
import pyarrow as pa  # noqa: E402

AS_OF = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--practices", type=int, default=1000)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--home", type=Path, default=Path(".loopdesk/bench-metrics"))
    parser.add_argument("--reuse", action="store_true", help="reuse the snapshot under --home")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (best is reported)")
    return parser.parse_args()


def _ops_events(raw: Path) -> dict[str, pa.Table]:
    """Synthetic console history: ask calls on 60% of recent treatments, each with a done task."""
    with duckdb.connect(str(raw), read_only=True) as conn:
        since = (AS_OF - timedelta(days=400)).isoformat()
        touches = conn.sql(
            f"""
            select
                row_number() over () as touch_id,
                row_number() over () as task_id,
                practice_slug, patient_id, null::varchar as lead_id, 'ask' as task_kind,
                (hash(treatment_id || practice_slug) % 40)::bigint as coordinator_id,
                'call' as channel,
                ['no_answer', 'voicemail', 'declined', 'willing_no_name', 'referred']
                    [(hash(patient_id) % 5)::integer + 1] as disposition,
                (3 + hash(treatment_id) % 8)::double as minutes,
                completed_at + interval 16 day as started_at,
                completed_at + interval 16 day + interval 8 minute as ended_at,
                treatment_id
            from raw_treatments
            where completed_at >= '{since}'::timestamptz
                and hash(treatment_id || practice_slug) % 10 < 6
            """
        ).to_arrow_table()
        tasks = conn.sql(
            """
            select task_id, 'ask' as kind, practice_slug, patient_id, null::varchar as lead_id,
                treatment_id, started_at - interval 2 day as created_at,
                started_at - interval 2 day as due_at, started_at + interval 5 day as sla_deadline,
                case when task_id % 20 = 0 then 'open' else 'done' end as status,
                case when task_id % 20 = 0 then null else ended_at end as closed_at,
                null::varchar as close_reason
            from touches
            """
        ).to_arrow_table()
    return {"ops_touches": touches.drop_columns(["treatment_id"]), "ops_tasks": tasks}


def _build(args: argparse.Namespace) -> dict[str, float]:
    """Generate, ingest and publish a snapshot; return the seconds each step took."""
    from pipelines.build import run_build
    from warehouse import paths

    figures: dict[str, float] = {}
    raw = paths.raw_db_path()
    raw.unlink(missing_ok=True)
    started = time.perf_counter()
    from pipelines.generate import generate_exports
    from pipelines.ingest import ingest

    drops = args.home / "drops"
    generate_exports(drops, practices=args.practices, seed=7, months=12 * args.years, now=AS_OF)
    figures["generate_s"] = time.perf_counter() - started
    started = time.perf_counter()
    ingest(drops)
    figures["ingest_s"] = time.perf_counter() - started
    ops = _ops_events(raw)
    started = time.perf_counter()
    run_build(ops_events=ops, as_of=AS_OF)
    figures["build_s"] = time.perf_counter() - started
    return figures


def _best(repeat: int, action: Callable[[], object]) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return min(timings)


def main() -> None:
    """Build (or reuse) the scale snapshot, time the read side, print figures and a JSON line."""
    args = _parse()
    args.home.mkdir(parents=True, exist_ok=True)
    # The bench owns its own data home; the settings object reads it from here.
    os.environ["LOOPDESK_HOME"] = str(args.home.resolve())
    from warehouse.metrics import compute_metrics
    from warehouse.metrics_ops import capacity, sla_board
    from warehouse.scope import Scope
    from warehouse.snapshot import SnapshotMissing, open_snapshot

    figures: dict[str, float] = {}
    try:
        if not args.reuse:
            raise SnapshotMissing("rebuild requested")
        open_snapshot().close()
    except SnapshotMissing:
        figures.update(_build(args))
    conn = open_snapshot()
    agency = Scope.agency()
    result = compute_metrics(conn, scope=agency)
    practices = result["agency"]["practices"]
    first = result["practices"][0]["practice_slug"]
    figures["practices"] = practices
    figures["compute_metrics_all_s"] = _best(
        args.repeat, lambda: compute_metrics(conn, scope=agency)
    )
    figures["compute_metrics_one_s"] = _best(
        args.repeat, lambda: compute_metrics(conn, scope=agency, practice_slug=first)
    )
    figures["sla_board_all_s"] = _best(
        args.repeat, lambda: sla_board(conn, scope=agency, now=AS_OF)
    )
    figures["capacity_all_s"] = _best(
        args.repeat, lambda: capacity(conn, scope=agency, week_start=date(2026, 11, 16))
    )
    cohort = result["agency"]["counts"]["cohort_patients"]
    referral = result["agency"]["referral_rate"]
    for name, value in figures.items():
        print(f"{name:>28}: {value:,.3f}")
    print(f"{'agency cohort patients':>28}: {cohort:,}  referral rate {referral}")
    print(json.dumps({"bench": "metrics", **{k: round(v, 4) for k, v in figures.items()},
                      "target_compute_metrics_all_s": 5.0,
                      "ok": figures["compute_metrics_all_s"] <= 5.0}))
    conn.close()
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""Queue benchmark: claim latency, top-50 view latency and concurrent claims at scale.

Bulk-inserts synthetic open tasks over many practices into a fresh SQLite file and a
dedicated PostgreSQL database, then measures `claim_next` p50/p95, `list_queue` (top 50)
p50/p95, and claims/s with 16 concurrent claimers (every claimed id must be unique) with
the p50/p95 of each claim *under* that load; at the end the audit log is sealed and its
chain verified. Prints figures and one JSON line.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the stdlib `queue`; drop its folder from the import path first.
_HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [p for p in sys.path if p not in ("", _HERE)]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

# 16 claimer threads need 16 connections (the default ceiling is 8 per process); set before
# the settings are first read.
os.environ.setdefault("LOOPDESK_DB_POOL_SIZE", "20")

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
import psycopg  # noqa: E402
from sqlalchemy import insert  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from console.identity.access import current_user  # noqa: E402
from console.identity.audit import count_events, seal, unsealed, verify_chain  # noqa: E402
from console.models.identity import Role, User, UserPractice  # noqa: E402
from console.models.practice import PracticeSettings  # noqa: E402
from console.platform import db  # noqa: E402
from console.platform.db import get_engine, init_db, new_session  # noqa: E402
from console.scoring.priority import DEFAULT_P_REFER, with_scores  # noqa: E402
from console.work import window  # noqa: E402
from console.work.claims import claim_next, list_queue  # noqa: E402

NOW = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)  # Thursday: US + London open, Sydney asleep
_STARTED = [time.perf_counter()]


def clock() -> datetime:
    """The injected clock of the claims: NOW plus the wall time since this store's
    measurement began, so the claim windows' TTL (console/work/window.py) runs as in use."""
    return NOW + timedelta(seconds=time.perf_counter() - _STARTED[0])


def _write_transactions(engine: Engine) -> int | None:
    """Write transactions SQLite's group commit made so far (None off SQLite)."""
    group = getattr(engine, db._GROUP_ATTRIBUTE, None)
    return None if group is None else int(group.transactions)


def _rankings(attribute: str = "refreshes") -> int:
    """Claim-window rankings this process made so far (all stores and scopes); with
    "ahead", those that ran in a thread of their own."""
    return sum(getattr(slot, attribute) for slots in list(window._POOL.values())
               for slot in slots.values())
ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
         "Europe/London", "Australia/Sydney"]
KINDS = ["ask", "follow_up", "contact_lead", "close_loop", "review_request"]
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
PG_DB = "loopdesk_bench"  # (--pg-database: another name, so two runs cannot collide)


def synthetic_tasks(count: int, practices: int, seed: int = 7) -> pl.DataFrame:
    """`count` open tasks over `practices` practices, scored like refresh scores them."""
    rng = np.random.default_rng(seed)
    slug = rng.integers(0, practices, count)
    kind = rng.choice(KINDS, count, p=[0.55, 0.2, 0.1, 0.05, 0.1])
    age_h = rng.exponential(24 * 20, count)
    deadline_h = rng.normal(72, 60, count)
    frame = pl.DataFrame({
        "task_id": np.arange(1, count + 1),
        "practice_slug": [f"practice-{i:04d}" for i in slug],
        "practice_tz": [ZONES[i % len(ZONES)] for i in slug],
        "kind": kind,
        "subject_id": [f"s{i}" for i in range(count)],
        "case_value": rng.lognormal(8.5, 0.8, count),
        "satisfaction_score": rng.integers(5, 11, count).astype(float),
        "attempt": np.ones(count, dtype=np.int64),
        "decay_from": [NOW - timedelta(hours=float(h)) for h in age_h],
        "sla_deadline": [NOW + timedelta(hours=float(h)) for h in deadline_h],
    })  # fmt: skip
    return (
        frame.with_columns(
            natural_key=pl.format("{}:{}:{}", "kind", "practice_slug", "task_id"),
            subject_type=pl.when(pl.col("kind") == "contact_lead").then(pl.lit("lead"))
            .otherwise(pl.lit("patient")),
            lead_conversion=pl.lit(0.5), p_refer_given_asked=pl.lit(DEFAULT_P_REFER),
            expected_minutes=pl.lit(7.0),
            decay_from=pl.col("decay_from").dt.replace_time_zone("UTC"),
            sla_deadline=pl.col("sla_deadline").dt.replace_time_zone("UTC"),
        )
        .pipe(with_scores)
        .with_columns(
            patient_id=pl.col("subject_id"), due_at=pl.col("decay_from"),
            created_at=pl.lit(NOW), consent_call=pl.lit(True), do_not_contact=pl.lit(False),
            status=pl.lit("open"), escalated=pl.lit(False), claim_version=pl.lit(0),
            claim_count=pl.lit(0),
        )
        .select(
            "task_id", "natural_key", "kind", "practice_slug", "practice_tz", "subject_type",
            "subject_id", "patient_id", "attempt", "case_value", "satisfaction_score",
            "consent_call", "do_not_contact", "created_at", "due_at", "sla_deadline",
            "decay_from", "value", "p_success", "expected_minutes", "rank_key", "status",
            "escalated", "claim_version", "claim_count",
        )
    )


def seed_store(engine: Engine, tasks: pl.DataFrame, practices: int) -> tuple[list[int], int]:
    """Practices, 16 managers and a 10-practice coordinator, then the tasks in bulk."""
    init_db(engine)
    with new_session(engine) as session:
        session.execute(insert(PracticeSettings), [
            {"practice_slug": f"practice-{i:04d}", "name": f"P{i}", "specialty": "dental",
             "timezone": ZONES[i % len(ZONES)], "contracted_hours_per_week": 10.0}
            for i in range(practices)
        ])  # fmt: skip
        managers = [User(email=f"m{i}@bench.test", role=Role.manager, password_hash="x",  # noqa: S106
                         created_at=NOW) for i in range(16)]
        coordinator = User(email="c@bench.test", role=Role.coordinator, password_hash="x",  # noqa: S106
                           created_at=NOW)
        session.add_all([*managers, coordinator])
        session.flush()
        session.add_all(UserPractice(user_id=coordinator.user_id or 0,
                                     practice_slug=f"practice-{i:04d}") for i in range(10))
        session.commit()
        ids = [m.user_id or 0 for m in managers]
        coordinator_id = coordinator.user_id or 0
    started = time.perf_counter()
    if engine.dialect.name == "postgresql":
        _copy_postgres(engine, tasks)
    else:
        _insert_sqlite(engine, tasks)
    print(f"  inserted {tasks.height:,} tasks in {time.perf_counter() - started:.1f} s")
    return ids, coordinator_id


def _insert_sqlite(engine: Engine, tasks: pl.DataFrame) -> None:
    text_times = tasks.with_columns(
        pl.col(c).dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        .dt.strftime("%Y-%m-%d %H:%M:%S.%6f")
        for c in ("created_at", "due_at", "sla_deadline", "decay_from")
    )  # fmt: skip
    columns = ", ".join(text_times.columns)
    marks = ", ".join("?" for _ in text_times.columns)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("begin")
        for chunk in text_times.iter_slices(100_000):
            cursor.executemany(f"insert into tasks ({columns}) values ({marks})", chunk.rows())
        cursor.execute("commit")
        cursor.execute("analyze")
    finally:
        raw.close()


def _copy_postgres(engine: Engine, tasks: pl.DataFrame) -> None:
    columns = ", ".join(tasks.columns)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(f"copy tasks ({columns}) from stdin") as copy:
            for row in tasks.iter_rows():
                copy.write_row(row)
        cursor.execute("select setval('tasks_task_id_seq', (select max(task_id) from tasks))")
        raw.commit()
        # VACUUM, as autovacuum would on a live table: right after a bulk COPY no page is
        # marked all-visible, so every index-only scan of the ranking visits the heap.
        driver = raw.driver_connection
        driver.autocommit = True  # type: ignore[union-attr]
        cursor.execute("vacuum analyze tasks")
        driver.autocommit = False  # type: ignore[union-attr]
    finally:
        raw.close()


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p95_ms": round(p95 * 1000, 2)}


def measure(engine: Engine, managers: list[int], coordinator: int, claims: int,
            per_thread: int) -> dict[str, Any]:
    """Claim and view latencies, then 16 concurrent claimers."""
    results: dict[str, Any] = {}
    _STARTED[0] = time.perf_counter()
    with new_session(engine) as session:
        # The acting user is built once per request (identity.access), outside the claim.
        manager = current_user(session=session, user_id=managers[0])
        scoped = current_user(session=session, user_id=coordinator)
        assert manager is not None and scoped is not None
        views = []
        for _ in range(20):
            started = time.perf_counter()
            entries = list_queue(session=session, user=manager, now=clock(), limit=50)
            views.append(time.perf_counter() - started)
            session.rollback()
        assert len(entries) == 50
        results["top50_view"] = _percentiles(views)
        for label, user in (("claim_agency", manager), ("claim_coordinator", scoped)):
            samples = []
            rankings = _rankings()
            for _ in range(claims):
                started = time.perf_counter()
                task = claim_next(session=session, user=user, now=clock())
                samples.append(time.perf_counter() - started)
                assert task is not None
            results[label] = _percentiles(samples) | {"rankings": _rankings() - rankings}
    claimed: list[int] = []
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(managers))

    def claimer(user_id: int) -> None:
        mine, spent = [], []
        with new_session(engine) as session:
            user = current_user(session=session, user_id=user_id)
            assert user is not None
            session.rollback()
            barrier.wait()
            for _ in range(per_thread):
                began = time.perf_counter()
                task = claim_next(session=session, user=user, now=clock())
                spent.append(time.perf_counter() - began)
                if task is None:
                    break
                mine.append(task.task_id or 0)
        with lock:
            claimed.extend(mine)
            latencies.extend(spent)

    threads = [threading.Thread(target=claimer, args=(uid,)) for uid in managers]
    rankings, ahead = _rankings(), _rankings("ahead")
    transactions = _write_transactions(engine)
    collections = _CollectorPauses()
    started, cpu = time.perf_counter(), time.process_time()
    with collections:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    duplicates = sum(n - 1 for n in Counter(claimed).values() if n > 1)
    results["concurrent"] = {"claimers": len(managers), "claims": len(claimed),
                             "load_average": round(os.getloadavg()[0], 1),
                             "claims_per_s": round(len(claimed) / elapsed, 1),
                             "duplicates": duplicates, "under_load": _percentiles(latencies),
                             "client_cpu_ms_per_claim": round(1000 * cpu / len(claimed), 2),
                             "rankings": _rankings() - rankings,
                             "rankings_in_own_thread": _rankings("ahead") - ahead,
                             "gc": collections.figures()}
    if transactions is not None:  # SQLite group commit: leases per write transaction
        grouped = (_write_transactions(engine) or 0) - transactions
        results["concurrent"]["leases_per_write_transaction"] = (
            round(len(claimed) / grouped, 2) if grouped else None)
    results["concurrent_processes"] = concurrent_processes(engine, managers, per_thread)
    results["audit"] = audit_check(engine)
    return results


class _CollectorPauses:
    """The cyclic collector's runs while it is entered (`gc.callbacks`): how many per
    generation, their total and longest pause."""

    def __init__(self) -> None:
        self.runs = [0, 0, 0]
        self.pauses: list[float] = []
        self._began = 0.0

    def _note(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:  # the collector holds the GIL: no other thread's run interleaves
            self.pauses.append(time.perf_counter() - self._began)
            self.runs[info["generation"]] += 1

    def __enter__(self) -> _CollectorPauses:
        gc.callbacks.append(self._note)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._note)

    def figures(self) -> dict[str, Any]:
        return {"runs_by_generation": self.runs,
                "total_ms": round(1000 * sum(self.pauses), 1),
                "longest_ms": round(1000 * max(self.pauses, default=0.0), 1),
                "tracked_objects": len(gc.get_objects())}


def audit_check(engine: Engine) -> dict[str, Any]:
    """Seal what the run appended, then verify the whole chain."""
    with new_session(engine) as session:
        left = unsealed(session=session).count
        started = time.perf_counter()
        sealed = seal(session=session).sealed
        seconds = time.perf_counter() - started
        intact = verify_chain(session=session) is None
        events = count_events(session=session)
    return {"events": events, "unsealed_after_run": left, "sealed": sealed,
            "seal_s": round(seconds, 3), "chain_intact": intact}


def _process_claimers(url: str, user_ids: list[int], per_thread: int,
                      barrier: Any, out: Any) -> None:
    """One app instance: a thread per user, claiming after every process is ready."""
    engine = get_engine(url)
    claimed: list[int] = []
    latencies: list[float] = []
    lock = threading.Lock()
    spans: list[float] = []

    def claimer(user_id: int) -> None:
        mine, spent = [], []
        with new_session(engine) as session:
            user = current_user(session=session, user_id=user_id)
            assert user is not None
            session.rollback()
            barrier.wait()
            spans.append(time.monotonic())
            for _ in range(per_thread):
                began = time.perf_counter()
                task = claim_next(session=session, user=user, now=clock())
                spent.append(time.perf_counter() - began)
                if task is None:
                    break
                mine.append(task.task_id or 0)
            spans.append(time.monotonic())
        with lock:
            claimed.extend(mine)
            latencies.extend(spent)

    threads = [threading.Thread(target=claimer, args=(uid,)) for uid in user_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put((claimed, min(spans), max(spans), latencies,
             (_rankings(), _rankings("adopted"), _rankings("published"))))


def concurrent_processes(engine: Engine, managers: list[int], per_thread: int,
                         processes: int = 4) -> dict[str, Any]:
    """The same 16 claimers as `processes` app instances × threads (the scale path)."""
    # Spawned, not forked: a fork copies the parent's locked native mutexes (polars' and the
    # allocators' threads hold them at any moment), and a child then hung for good in
    # `sqlite3.connect` (seen 2026-12-02). The children get the store's URL, not its engine.
    context = multiprocessing.get_context("spawn")
    url = engine.url.render_as_string(hide_password=False)
    barrier = context.Barrier(len(managers))
    out = context.Queue()
    share = len(managers) // processes
    workers = [
        context.Process(target=_process_claimers,
                        args=(url, managers[i * share:(i + 1) * share], per_thread,
                              barrier, out))
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    parts = [out.get() for _ in workers]
    for worker in workers:
        worker.join()
    claimed = [task_id for ids, *_ in parts for task_id in ids]
    elapsed = max(part[2] for part in parts) - min(part[1] for part in parts)
    duplicates = sum(n - 1 for n in Counter(claimed).values() if n > 1)
    latencies = [spent for part in parts for spent in part[3]]
    return {"processes": processes, "threads_per_process": share, "claims": len(claimed),
            "claims_per_s": round(len(claimed) / elapsed, 1), "duplicates": duplicates,
            "under_load": _percentiles(latencies),
            # rankings made; windows adopted from another process; rankings published
            "rankings": sum(part[4][0] for part in parts),
            "windows_adopted": sum(part[4][1] for part in parts),
            "windows_published": sum(part[4][2] for part in parts)}


def _report(store: str, figures: dict[str, Any]) -> None:
    print(f"  top-50 view   p50 {figures['top50_view']['p50_ms']} ms  "
          f"p95 {figures['top50_view']['p95_ms']} ms")
    for label in ("claim_agency", "claim_coordinator"):
        print(f"  {label:<18} p50 {figures[label]['p50_ms']} ms  p95 {figures[label]['p95_ms']} ms"
              f"  ({figures[label]['rankings']} window rankings)")
    c = figures["concurrent"]
    print(f"  {c['claimers']} claimers (threads, one process): {c['claims']} claims, "
          f"{c['claims_per_s']} claims/s, claim p50 {c['under_load']['p50_ms']} ms p95 "
          f"{c['under_load']['p95_ms']} ms, duplicates {c['duplicates']}, client CPU "
          f"{c['client_cpu_ms_per_claim']} ms/claim, {c['rankings']} window rankings "
          f"({c['rankings_in_own_thread']} in a thread of their own), "
          f"load {c['load_average']}, collector {c['gc']['runs_by_generation']} runs "
          f"{c['gc']['total_ms']} ms (longest {c['gc']['longest_ms']} ms)"
          + (f", {c['leases_per_write_transaction']} leases per write transaction"
             if "leases_per_write_transaction" in c else "") + f"  [{store}]")
    p = figures["concurrent_processes"]
    print(f"  16 claimers ({p['processes']} processes x {p['threads_per_process']} threads): "
          f"{p['claims']} claims, {p['claims_per_s']} claims/s, claim p50 "
          f"{p['under_load']['p50_ms']} ms p95 {p['under_load']['p95_ms']} ms, duplicates "
          f"{p['duplicates']}, {p['rankings']} window rankings, {p['windows_adopted']} "
          f"windows adopted from another process  [{store}]")
    a = figures["audit"]
    print(f"  audit: {a['events']} events, {a['unsealed_after_run']} unsealed after the run "
          f"(sealed in {a['seal_s']} s), chain intact: {a['chain_intact']}  [{store}]")


def main() -> None:
    """Run the benchmark on SQLite and (unless skipped) PostgreSQL."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--practices", type=int, default=1000)
    parser.add_argument("--claims", type=int, default=200)
    parser.add_argument("--per-thread", type=int, default=25)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true",
                        help="measure PostgreSQL only (its seeding alone takes minutes)")
    parser.add_argument("--pg-database", default=PG_DB,
                        help="the database to create, fill and drop (default %(default)s)")
    args = parser.parse_args()
    started = time.perf_counter()
    tasks = synthetic_tasks(args.tasks, args.practices)
    print(f"generated {tasks.height:,} tasks over {args.practices} practices "
          f"in {time.perf_counter() - started:.1f} s")
    summary: dict[str, Any] = {"bench": "queue", "tasks": args.tasks,
                               "practices": args.practices}
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            print("sqlite")
            engine = get_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
            managers, coordinator = seed_store(engine, tasks, args.practices)
            summary["sqlite"] = measure(engine, managers, coordinator, args.claims,
                                        args.per_thread)
            _report("sqlite", summary["sqlite"])
            engine.dispose()
    if not args.skip_postgres:
        print("postgresql")
        name = args.pg_database
        if not name.replace("_", "").isalnum():
            parser.error("--pg-database: letters, digits and _ only")
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"drop database if exists {name} with (force)")
            admin.execute(f"create database {name}")
        engine = get_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
        managers, coordinator = seed_store(engine, tasks, args.practices)
        summary["postgresql"] = measure(engine, managers, coordinator, args.claims,
                                        args.per_thread)
        _report("postgresql", summary["postgresql"])
        engine.dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"drop database if exists {name} with (force)")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()

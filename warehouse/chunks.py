"""Full builds in practice chunks: the partitioned models run a slice of practices at a time.

A model that declares `-- partition: practice_slug` computes a practice's rows from that
practice's rows of its inputs (warehouse/incremental.py). A full build of a big raw store runs
those models over ranges of practices — slug ranges holding about `chunk_rows` raw rows each —
appending each range's rows to the published tables, so every join, window and sort works on
one range that fits in memory instead of spilling the whole agency to disk under the build's
memory ceiling. Unpartitioned models that partitioned ones read run first, whole; the
unpartitioned models that read partitioned ones run after the ranges, whole (an unpublished
partitioned model they read is collected range by range, or, for a view, read whole). Checks
that read only published partitioned models run on each range's rows; the others once, at the
end. The union of the ranges is every practice (and rows without one), so the published tables
hold the same rows as a build in one piece (tests/warehouse/test_chunks.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import duckdb

from warehouse.data_checks import Check, CheckRun, ChecksFailed, run_checks
from warehouse.incremental import (
    _RAW_REFERENCE,
    UnpublishedCounts,
    _body,
    _rename,
    _slice_name,
    partitioned,
)
from warehouse.runner import Model, ModelFailed, ModelRun, order_models, references, run_models

# Raw rows (patients + treatments + referrals) per range. The 1,000-practice world (4.2 M rows)
# stays one piece: each extra range costs ~0.5-1 CPU-s there (1.5 M-row ranges: +1-3 CPU-s in
# all); at 10,000 practices (42 M rows) ranges of this size keep every join near the 1,000
# world's size instead of spilling the whole agency (docs/benchmarks.md, brief build).
CHUNK_ROWS = 5_000_000
# The raw tables whose rows measure a practice's size.
_SIZED_TABLES = ("raw_patients", "raw_treatments", "raw_referrals")


@dataclass(frozen=True)
class Chunk:
    """A range of practices by slug: from `low` (inclusive; None = the first, and rows without a
    practice) to `high` (exclusive; None = the last)."""

    low: str | None
    high: str | None

    def predicate(self) -> str:
        """A SQL condition on `practice_slug` selecting the range's rows."""
        parts = []
        if self.low is not None:
            parts.append(f"practice_slug >= {_literal(self.low)}")
        if self.high is not None:
            parts.append(f"practice_slug < {_literal(self.high)}")
        if not parts:
            return "true"
        condition = " and ".join(parts)
        if self.low is None:
            condition = f"practice_slug is null or {condition}"
        return f"({condition})"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def plan_chunks(sizes: Sequence[tuple[str, int]], chunk_rows: int) -> list[Chunk]:
    """Consecutive slug ranges of about `chunk_rows` rows each (a practice is never split), from
    (slug, rows) in slug order; [] when everything fits in one range."""
    bounds: list[str] = []
    filled = 0
    for slug, rows in sizes:
        if filled and filled + rows > chunk_rows:
            bounds.append(slug)
            filled = 0
        filled += rows
    if not bounds:
        return []
    lows: list[str | None] = [None, *bounds]
    highs: list[str | None] = [*bounds, None]
    return [Chunk(low=low, high=high) for low, high in zip(lows, highs, strict=True)]


def practice_sizes(conn: duckdb.DuckDBPyConnection, raw: str = "raw") -> list[tuple[str, int]]:
    """(practice_slug, raw rows) in slug order, over the raw tables that measure size."""
    counts = " union all ".join(
        f"select practice_slug, count(*) as n from {raw}.{table} group by all"
        for table in _SIZED_TABLES
    )
    rows = conn.execute(
        f"select practice_slug, sum(n) from ({counts}) where practice_slug is not null "
        "group by all order by practice_slug"
    ).fetchall()
    return [(str(slug), int(n)) for slug, n in rows]


def chunkable(models: Sequence[Model]) -> bool:
    """Whether no partitioned model reads an unpartitioned model that reads a partitioned one
    (those could not run before the ranges nor after them)."""
    return not _phases(order_models(models))[3]


def _phases(ordered: Sequence[Model]) -> tuple[list[Model], list[Model], list[Model], list[Model]]:
    """(whole models before the ranges, partitioned models, whole models after them, partitioned
    models that read an after-model — none in a chunkable set)."""
    names = [m.name for m in ordered]
    deps = {m.name: references(m, names) for m in ordered}
    part = {m.name for m in ordered if partitioned(m)}
    downstream: set[str] = set()
    for model in ordered:  # dependency order: a reader comes after what it reads
        if model.name not in part and deps[model.name] & (part | downstream):
            downstream.add(model.name)
    before = [m for m in ordered if m.name not in part and m.name not in downstream]
    sliced = [m for m in ordered if m.name in part]
    after = [m for m in ordered if m.name in downstream]
    blocked = [m for m in sliced if deps[m.name] & downstream]
    return before, sliced, after, blocked


def _needed_whole(
    sliced: Sequence[Model], after: Sequence[Model], whole_checks: Sequence[Check]
) -> set[str]:
    """Unpublished partitioned models read whole: by the after-models or the whole checks,
    directly or through a partitioned view."""
    unpublished = {m.name: m for m in sliced if m.materialized != "table"}
    names = list(unpublished)
    readers = [*after, *(Model(name="_check", layer="marts", sql=c.sql) for c in whole_checks)]
    pending = [name for reader in readers for name in references(reader, names)]
    found: set[str] = set()
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        if unpublished[name].materialized == "view":
            pending.extend(references(unpublished[name], names))
    return found


def _split_checks(
    checks: Sequence[Check], sliced: Sequence[Model], all_names: Sequence[str]
) -> tuple[list[tuple[int, Check]], list[tuple[int, Check]]]:
    """(checks run range by range, renamed to the range's tables; checks run once, whole), each
    with its position in `checks`. A check runs by range when it reads only published
    partitioned models whose key includes the practice (a unique key within each practice is
    unique overall)."""
    published = {
        m.name for m in sliced if m.materialized == "table" and "practice_slug" in m.key
    }
    by_range: list[tuple[int, Check]] = []
    whole: list[tuple[int, Check]] = []
    for position, check in enumerate(checks):
        used = references(Model(name="_check", layer="marts", sql=check.sql), all_names)
        if used and used <= published:
            renamed = _rename(check.sql, sorted(used), _slice_name)
            by_range.append((position, Check(name=check.name, sql=renamed)))
        else:
            whole.append((position, check))
    return by_range, whole


def _merge(runs: dict[int, CheckRun], position: int, run: CheckRun) -> None:
    """Add one range's outcome of a check to its running total."""
    seen = runs.get(position)
    if seen is None:
        runs[position] = run
        return
    broken = seen.failing_rows < 0 or run.failing_rows < 0
    runs[position] = replace(
        seen,
        failing_rows=-1 if broken else seen.failing_rows + run.failing_rows,
        sample=seen.sample or run.sample,
        seconds=seen.seconds + run.seconds,
        error=seen.error or run.error,
    )


def run_models_chunked(
    conn: duckdb.DuckDBPyConnection,
    models: Sequence[Model],
    checks: Sequence[Check],
    chunks: Sequence[Chunk],
    *,
    counter: UnpublishedCounts,
    after_model: Callable[[ModelRun], None] | None = None,
) -> tuple[list[ModelRun], list[CheckRun]]:
    """A full build of `models` range by range (see the module docstring), then `checks`;
    ChecksFailed naming every failing check, summed over the ranges."""
    ordered = order_models(models)
    before, sliced, after, blocked = _phases(ordered)
    if blocked:
        raise ValueError(f"models cannot run by range: {[m.name for m in blocked]}")
    all_names = [m.name for m in ordered]
    by_range, whole_checks = _split_checks(checks, sliced, all_names)
    needed = _needed_whole(sliced, after, [check for _, check in whole_checks])
    runs: dict[str, ModelRun] = {
        run.name: run for run in run_models(conn, before, after_model=after_model,
                                            count_rows=counter)
    }
    sliced_names = [m.name for m in sliced]
    raw_tables = sorted({t for m in sliced for t in _RAW_REFERENCE.findall(_body(m.sql))})
    bodies = {
        m.name: _rename(
            _RAW_REFERENCE.sub(lambda found: f"_raw_slice__{found.group(1)}", _body(m.sql)),
            [n for n in sliced_names if n != m.name],
            _slice_name,
        )
        for m in sliced
    }
    seconds = dict.fromkeys(sliced_names, 0.0)
    totals = dict.fromkeys(sliced_names, 0)
    check_runs: dict[int, CheckRun] = {}
    for number, chunk in enumerate(chunks):
        where = chunk.predicate()
        for table in raw_tables:
            conn.execute(
                f"create or replace temp view _raw_slice__{table} as "
                f"select * from raw.{table} where {where}"
            )
        for model in sliced:
            started = time.perf_counter()
            try:
                totals[model.name] += _run_slice(
                    conn, model, bodies[model.name], where, first=number == 0,
                    collect=model.name in needed, counter=counter,
                )
            except duckdb.Error as exc:
                raise ModelFailed(model.name, exc) from exc
            seconds[model.name] += time.perf_counter() - started
        # The range's checks in one statement (warehouse/data_checks.py).
        outcomes = run_checks(conn, [check for _, check in by_range], raise_failures=False)
        for (position, _), outcome in zip(by_range, outcomes, strict=True):
            _merge(check_runs, position, outcome)
        for model in sliced:
            if model.materialized == "ephemeral":
                conn.execute(f"drop table if exists temp.main.{_slice_name(model.name)}")
    for model in sliced:
        if model.materialized == "view" and model.name in needed:
            conn.execute(f"create or replace temp view {model.name} as\n{_body(model.sql)}")
        if model.materialized == "table":
            found = conn.execute(f"select count(*) from {model.name}").fetchone()
            totals[model.name] = int(found[0]) if found else 0
        run = ModelRun(
            name=model.name,
            layer=model.layer,
            rows=totals[model.name],
            seconds=seconds[model.name],
            persisted=model.materialized == "table",
        )
        runs[model.name] = run
        if after_model is not None:
            after_model(run)
    runs |= {
        run.name: run
        for run in run_models(conn, after, after_model=after_model, count_rows=counter)
    }
    for position, outcome in zip(
        [position for position, _ in whole_checks],
        run_checks(conn, [check for _, check in whole_checks], raise_failures=False),
        strict=True,
    ):
        _merge(check_runs, position, outcome)
    ordered_checks = [check_runs[position] for position in sorted(check_runs)]
    failures = [run for run in ordered_checks if not run.passed]
    if failures:
        raise ChecksFailed(failures)
    return [runs[name] for name in all_names], ordered_checks


def _run_slice(
    conn: duckdb.DuckDBPyConnection,
    model: Model,
    body: str,
    where: str,
    *,
    first: bool,
    collect: bool,
    counter: UnpublishedCounts,
) -> int:
    """One range of one partitioned model: its slice, appended to the published table (or, for
    an unpublished model read whole later, to its whole temp table); returns the slice's rows."""
    slice_table = _slice_name(model.name)
    rows = f"select * from (\n{body}\n) where {where}"
    if model.materialized == "table":
        # Straight into the published table; the range's later models and checks read the
        # range's rows back from it (appended last, so its newest row groups).
        if first:
            conn.execute(f"create or replace table {model.name} as {rows}")
        else:
            conn.execute(f"insert into {model.name} {rows}")
        conn.execute(
            f"create or replace temp view {slice_table} as "
            f"select * from {model.name} where {where}"
        )
        return 0  # counted once, at the end
    kind = "temp view" if model.materialized == "view" else "temp table"
    conn.execute(f"create or replace {kind} {slice_table} as {rows}")
    if collect and model.materialized == "ephemeral":
        whole = f"select * from {slice_table}"
        if first:
            conn.execute(f"create or replace temp table {model.name} as {whole}")
        else:
            conn.execute(f"insert into {model.name} {whole}")
    return counter.count_slice(conn, model, slice_table)

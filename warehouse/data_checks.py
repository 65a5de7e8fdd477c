"""Data checks: queries that select the bad rows of a built snapshot and expect none."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from warehouse.runner import Model

CHECKS_DIR = Path(__file__).parent / "checks"
SAMPLE_ROWS = 3

# Only identifiers, codes and times go into a failure message: never names, phones or emails.
_SHOWABLE = re.compile(
    r"^(practice_slug|file|line|status|category|kind|channel|source|event|disposition|copies"
    r"|.*_id|.*_at|.*_days|.*_value|value|.*_rate|.*_conversion|.*_asked|.*_score)$"
)


@dataclass(frozen=True)
class Check:
    """One data check: its name and a select returning the offending rows."""

    name: str
    sql: str


@dataclass(frozen=True)
class CheckRun:
    """The outcome of one check on a snapshot."""

    name: str
    failing_rows: int
    sample: tuple[dict[str, object], ...] = field(default=())
    seconds: float = 0.0
    error: str | None = None

    @property
    def passed(self) -> bool:
        """Whether the check ran and found no offending rows."""
        return self.failing_rows == 0

    def describe(self) -> str:
        """One line naming the check, how many rows failed and a sample of their keys."""
        if self.failing_rows < 0:
            return f"{self.name}: could not run ({self.error})"
        sample = "; ".join(
            ", ".join(f"{col}={val}" for col, val in row.items()) for row in self.sample
        )
        return f"{self.name}: {self.failing_rows} offending row(s)" + (
            f", e.g. {sample}" if sample else ""
        )


class ChecksFailed(RuntimeError):
    """At least one data check found offending rows; the snapshot must not be published."""

    def __init__(self, failures: Sequence[CheckRun]) -> None:
        self.failures = tuple(failures)
        super().__init__(
            "data checks failed: " + " | ".join(failure.describe() for failure in failures)
        )


def discover_checks(root: Path = CHECKS_DIR) -> list[Check]:
    """Every `<root>/*.sql` business-rule check, named after its file."""
    if not root.is_dir():
        return []
    return [
        Check(name=path.stem, sql=path.read_text(encoding="utf-8"))
        for path in sorted(root.glob("*.sql"))
    ]


def key_checks(models: Sequence[Model]) -> list[Check]:
    """A unique and a not-null check for the key every published model declares with `-- key:`.

    Ephemeral models and views are skipped: each feeds a published mart with the same key,
    checked there.
    """
    checks: list[Check] = []
    for model in models:
        if not model.key or model.materialized != "table":
            continue
        cols = ", ".join(model.key)
        null_test = " or ".join(f"{col} is null" for col in model.key)
        checks.append(Check(name=f"unique_{model.name}", sql=unique_sql(model.name, cols)))
        checks.append(
            Check(
                name=f"not_null_{model.name}",
                sql=f"select {cols} from {model.name} where {null_test}",
            )
        )
    return checks


def unique_sql(table: str, cols: str) -> str:
    """The rows (`cols`, copies) of each key of `table` held more than once.

    Grouping the 2 M-row marts by their text keys is most of a check's cost (hashing and
    comparing strings): the keys are first grouped by their 64-bit `hash`, and only the rows
    whose hash repeats (equal keys always share one; a collision of distinct keys is rare)
    are grouped by the keys themselves, so the result is the plain group-by's exactly
    (docs/benchmarks.md, brief pipe3x: -0.12…-0.27 CPU-s per big mart)."""
    return (
        f"select {cols}, count(*) as copies from {table} "
        f"where hash({cols}) in (select hash({cols}) from {table} "
        f"group by 1 having count(*) > 1) "
        f"group by {cols} having count(*) > 1"
    )


def _safe_sample(conn: duckdb.DuckDBPyConnection, body: str) -> tuple[dict[str, object], ...]:
    """The first offending rows, restricted to columns safe to print."""
    described = conn.execute(f"select * from ({body}) limit 0").description or []
    cols = [str(col[0]) for col in described if _SHOWABLE.match(str(col[0]))]
    if not cols:
        return ()
    listed = ", ".join(f'"{col}"' for col in cols)
    rows = conn.execute(f"select {listed} from ({body}) limit {SAMPLE_ROWS}").fetchall()
    return tuple(dict(zip(cols, row, strict=True)) for row in rows)


def _count_together(
    conn: duckdb.DuckDBPyConnection, bodies: Sequence[str]
) -> list[int] | None:
    """Every check's offending-row count from one statement (one plan and one round trip
    instead of one per check: a range of a big build runs ~40 checks); None when the statement
    raises, so that the checks run one by one and the broken one is named."""
    counts = ",\n".join(f"(select count(*) from ({body}))" for body in bodies)
    try:
        found = conn.execute(f"select\n{counts}").fetchone()
    except duckdb.Error:
        return None
    return [int(value) for value in found] if found else None


def run_checks(
    conn: duckdb.DuckDBPyConnection, checks: Sequence[Check], *, raise_failures: bool = True
) -> list[CheckRun]:
    """Run every check; raise ChecksFailed naming all failing ones (a broken check fails too),
    or, with `raise_failures=False`, return them among the runs. The counts come from one
    statement; a check's `seconds` is then its share of that statement's time."""
    bodies = [check.sql.strip().rstrip(";").strip() for check in checks]
    started = time.perf_counter()
    together = _count_together(conn, bodies) if len(bodies) > 1 else None
    share = (time.perf_counter() - started) / max(len(bodies), 1)
    runs: list[CheckRun] = []
    for position, (check, body) in enumerate(zip(checks, bodies, strict=True)):
        started = time.perf_counter()
        try:
            if together is not None:
                failing = together[position]
            else:
                counted = conn.execute(f"select count(*) from ({body})").fetchone()
                failing = int(counted[0]) if counted else 0
            sample = _safe_sample(conn, body) if failing else ()
        except duckdb.Error as exc:
            runs.append(
                CheckRun(
                    name=check.name,
                    failing_rows=-1,
                    error=type(exc).__name__,
                )
            )
            continue
        spent = time.perf_counter() - started
        runs.append(
            CheckRun(
                name=check.name,
                failing_rows=failing,
                sample=sample,
                seconds=spent + (share if together is not None else 0.0),
            )
        )
    failures = [run for run in runs if not run.passed]
    if failures and raise_failures:
        raise ChecksFailed(failures)
    return runs

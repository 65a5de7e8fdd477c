"""Incremental builds: after a drop, rebuild only the practices whose inputs changed.

A model whose header says `-- partition: practice_slug` computes each practice's rows from that
practice's rows of its inputs (and from whole non-partitioned models): it is rebuilt for the
touched practices only — its SQL runs over inputs filtered to them, and the published table
swaps those practices' rows. Every other model is rebuilt whole, as in a full build.

The previous snapshot records what it was built from (`build_state*` tables): a fingerprint of
the model and check SQL and of the build parameters, and one per practice of its raw and
operational rows. A build is incremental when the SQL and the parameters are unchanged; the
practices touched are those whose fingerprint moved. When `as_of` moved, models that read the
clock (`build_params`, directly or through another model) are rebuilt whole.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from warehouse.data_checks import Check
from warehouse.runner import BuildParams, Model, ModelFailed, ModelRun, order_models, references

_PARTITION_LINE = re.compile(r"^\s*--\s*partition:\s*practice_slug\s*$", re.MULTILINE)
_RAW_REFERENCE = re.compile(r"(?<![\w.])raw\.(\w+)")
# Tables of the raw store models read, with what tells a practice's rows changed: ingest only
# inserts and updates, so a count, the latest `_loaded_at` and the sum of the rows' `_row_hash`
# (ingest's hash of the typed columns: an update changes it even when it is stamped with the
# same instant as the first load, as under a pinned clock); the operational copy is replaced
# wholesale each build, so its rows are hashed.
_LOADED_TABLES = ("raw_practices", "raw_patients", "raw_treatments", "raw_referrals")
_HASHED_TABLES = (
    "ops_tasks", "ops_touches", "ops_leads", "ops_lead_events", "ops_consent_events",
    "ops_messages",
)
# Above this share of practices touched, a full build is cheaper than patching.
FULL_BUILD_SHARE = 0.5
CLOCK = "build_params"


def partitioned(model: Model) -> bool:
    """Whether the model declares itself practice-partitioned (`-- partition: practice_slug`)."""
    return bool(_PARTITION_LINE.search(model.sql))


@dataclass(frozen=True)
class BuildState:
    """What a snapshot was built from."""

    sql: str  # fingerprint of every model's and check's SQL
    params: str  # the build parameters other than as_of and build_id
    as_of: datetime
    practices: dict[str, str]  # practice_slug -> fingerprint of its rows
    counts: dict[tuple[str, str], int]  # (unpublished partitioned model, practice) -> rows


@dataclass(frozen=True)
class BuildPlan:
    """How this build runs: full, or incremental over the touched practices."""

    mode: str  # "full" or "incremental"
    state: BuildState
    touched: tuple[str, ...] = ()
    partitioned: frozenset[str] = frozenset()  # models rebuilt for the touched practices only
    previous_counts: dict[tuple[str, str], int] | None = None
    reason: str = ""


def sql_fingerprint(models: Sequence[Model], checks: Sequence[Check]) -> str:
    """One hash over every model (name, layer, materialisation, SQL) and check."""
    digest = hashlib.sha256()
    for model in sorted(models, key=lambda m: m.name):
        digest.update(f"{model.name}\0{model.layer}\0{model.materialized}\0{model.sql}\0".encode())
    for check in sorted(checks, key=lambda c: c.name):
        digest.update(f"{check.name}\0{check.sql}\0".encode())
    return digest.hexdigest()


def params_fingerprint(params: BuildParams) -> str:
    """The build parameters other than the clock and the id, as canonical JSON."""
    values = {k: v for k, v in asdict(params).items() if k not in ("as_of", "build_id")}
    return json.dumps(values, sort_keys=True, default=str)


def practice_fingerprints(conn: duckdb.DuckDBPyConnection, raw: str = "raw") -> dict[str, str]:
    """practice_slug -> a fingerprint of its rows in every raw and operational table models read."""
    parts = [
        f"select practice_slug, '{table}' as source, count(*)::varchar || '/' || "
        f"coalesce(max(_loaded_at)::varchar, '') || '/' || "
        f"coalesce(sum(_row_hash)::varchar, '') as value from {raw}.{table} group by all"
        for table in _LOADED_TABLES
    ] + [
        f"select practice_slug, '{table}' as source, count(*)::varchar || '/' || "
        f"sum(hash(t))::varchar as value from {raw}.{table} as t group by all"
        for table in _HASHED_TABLES
    ]
    rows = conn.execute(
        "select practice_slug, md5(string_agg(source || '=' || value, ';' order by source)) "
        f"from ({' union all '.join(parts)}) where practice_slug is not null group by all"
    ).fetchall()
    return {str(slug): str(value) for slug, value in rows}


def read_state(conn: duckdb.DuckDBPyConnection, catalog: str) -> BuildState | None:
    """The state recorded in an attached snapshot, or None (an older snapshot has none)."""
    present = conn.execute(
        "select count(*) from duckdb_tables() where database_name = $catalog "
        "and table_name in ('build_state', 'build_state_practices', 'build_state_counts')",
        {"catalog": catalog},
    ).fetchone()
    if not present or present[0] != 3:
        return None
    meta = dict(conn.execute(f"select key, value from {catalog}.build_state").fetchall())
    practices = conn.execute(
        f"select practice_slug, fingerprint from {catalog}.build_state_practices"
    ).fetchall()
    counts = conn.execute(
        f"select model, practice_slug, row_count from {catalog}.build_state_counts"
    ).fetchall()
    return BuildState(
        sql=str(meta.get("sql", "")),
        params=str(meta.get("params", "")),
        as_of=datetime.fromisoformat(str(meta["as_of"])),
        practices={str(slug): str(value) for slug, value in practices},
        counts={(str(model), str(slug)): int(rows) for model, slug, rows in counts},
    )


def write_state(conn: duckdb.DuckDBPyConnection, state: BuildState) -> None:
    """Record in the snapshot being built what it was built from."""
    conn.execute("create or replace table build_state (key varchar, value varchar)")
    conn.executemany(
        "insert into build_state values (?, ?)",
        [("sql", state.sql), ("params", state.params), ("as_of", state.as_of.isoformat())],
    )
    # Lists unnested in one statement: executemany is one round trip per row.
    practices = sorted(state.practices.items())
    conn.execute(
        "create or replace table build_state_practices as "
        "select unnest($slugs::varchar[]) as practice_slug, "
        "unnest($prints::varchar[]) as fingerprint",
        {"slugs": [slug for slug, _ in practices], "prints": [fp for _, fp in practices]},
    )
    counts = sorted(state.counts.items())
    conn.execute(
        "create or replace table build_state_counts as "
        "select unnest($models::varchar[]) as model, unnest($slugs::varchar[]) as practice_slug, "
        "unnest($rows::bigint[]) as row_count",
        {
            "models": [model for (model, _), _ in counts],
            "slugs": [slug for (_, slug), _ in counts],
            "rows": [rows for _, rows in counts],
        },
    )


def clock_readers(models: Sequence[Model]) -> set[str]:
    """Models that read `build_params`, directly or through other models."""
    names = [m.name for m in models]
    deps = {m.name: references(m, [*names, CLOCK]) for m in models}
    found: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, model_deps in deps.items():
            if name not in found and (CLOCK in model_deps or model_deps & found):
                found.add(name)
                changed = True
    return found


def plan_build(
    *,
    raw_path: Path,
    previous: Path | None,
    models: Sequence[Model],
    checks: Sequence[Check],
    params: BuildParams,
    full: bool,
) -> BuildPlan:
    """Decide full or incremental by comparing the raw store with the previous snapshot's state."""
    conn = duckdb.connect()
    try:
        conn.execute("set TimeZone = 'UTC'")
        conn.execute(f"attach '{_quoted_path(raw_path)}' as raw (read_only)")
        state = BuildState(
            sql=sql_fingerprint(models, checks),
            params=params_fingerprint(params),
            as_of=params.as_of,
            practices=practice_fingerprints(conn),
            counts={},
        )
        old: BuildState | None = None
        if previous is not None and not full:
            conn.execute(f"attach '{_quoted_path(previous)}' as previous (read_only)")
            old = read_state(conn, "previous")
    finally:
        conn.close()
    reason = _full_reason(full, old, state)
    if reason or old is None:
        return BuildPlan(mode="full", state=state, reason=reason)
    slugs = set(state.practices) | set(old.practices)
    touched = sorted(s for s in slugs if state.practices.get(s) != old.practices.get(s))
    if len(touched) > FULL_BUILD_SHARE * max(len(slugs), 1):
        return BuildPlan(mode="full", state=state, reason="most practices changed")
    declared = {m.name for m in models if partitioned(m)}
    if old.as_of != state.as_of:
        declared -= clock_readers(models)
    return BuildPlan(
        mode="incremental",
        state=state,
        touched=tuple(touched),
        partitioned=frozenset(declared),
        previous_counts=old.counts,
    )


def _full_reason(full: bool, old: BuildState | None, state: BuildState) -> str:
    if full:
        return "asked for (--full)"
    if old is None:
        return "no previous snapshot with a build state"
    if old.sql != state.sql:
        return "models or checks changed"
    if old.params != state.params:
        return "build parameters changed"
    return ""


def _quoted_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _slice_name(name: str) -> str:
    return f"_slice__{name}"


def _rename(sql: str, names: Iterable[str], rename: Callable[[str], str]) -> str:
    for name in names:
        sql = re.sub(rf"(?<![\w.]){re.escape(name)}(?!\w)", rename(name), sql)
    return sql


def _body(sql: str) -> str:
    return sql.strip().rstrip(";").strip()


TOUCHED = "_touched_practices"
IN_TOUCHED = f"practice_slug in (select practice_slug from {TOUCHED})"


class UnpublishedCounts:
    """Counts a full build's models (the `count_rows` of `runner.run_models`), keeping the rows
    per practice of every unpublished partitioned model, so an incremental build can report
    their totals without evaluating them whole. A view is evaluated once, by this count."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}

    def __call__(self, conn: duckdb.DuckDBPyConnection, model: Model) -> int:
        if not partitioned(model) or model.materialized == "table":
            found = conn.execute(f"select count(*) from {model.name}").fetchone()
            return int(found[0]) if found else 0
        rows = conn.execute(
            f"select practice_slug, count(*) from {model.name} group by all"
        ).fetchall()
        self.counts |= {(model.name, str(slug)): int(n) for slug, n in rows if slug is not None}
        return sum(int(n) for _, n in rows)

    def count_slice(self, conn: duckdb.DuckDBPyConnection, model: Model, table: str) -> int:
        """Count one range of practices of an unpublished partitioned model, held in `table`
        (a chunked full build, warehouse/chunks.py); returns the range's rows."""
        rows = conn.execute(f"select practice_slug, count(*) from {table} group by all").fetchall()
        self.counts |= {(model.name, str(slug)): int(n) for slug, n in rows if slug is not None}
        return sum(int(n) for _, n in rows)


def run_models_incremental(
    conn: duckdb.DuckDBPyConnection,
    models: Sequence[Model],
    plan: BuildPlan,
    *,
    after_model: Callable[[ModelRun], None] | None = None,
) -> tuple[list[ModelRun], dict[tuple[str, str], int]]:
    """Rebuild a copy of the previous snapshot: partitioned models for the touched practices,
    the others whole. Returns the runs and the new per-practice counts of unpublished models."""
    conn.execute(f"create or replace temp table {TOUCHED} (practice_slug varchar)")
    if plan.touched:
        conn.executemany(f"insert into {TOUCHED} values (?)", [(s,) for s in plan.touched])
    ordered = order_models(models)
    sliced = [m for m in ordered if m.name in plan.partitioned]
    raw_tables = sorted({t for m in sliced for t in _RAW_REFERENCE.findall(_body(m.sql))})
    for table in raw_tables:
        conn.execute(
            f"create or replace temp view _raw_slice__{table} as "
            f"select * from raw.{table} where {IN_TOUCHED}"
        )
    sliced_names = [m.name for m in sliced]
    counts = {
        key: rows
        for key, rows in (plan.previous_counts or {}).items()
        if key[1] not in set(plan.touched)
    }
    runs: list[ModelRun] = []
    for model in ordered:
        started = time.perf_counter()
        try:
            if model.name in plan.partitioned:
                rows = _rebuild_slice(conn, model, sliced_names, counts)
            else:
                kind = {"ephemeral": "temp table", "view": "temp view"}.get(
                    model.materialized, "table"
                )
                conn.execute(f"create or replace {kind} {model.name} as\n{_body(model.sql)}")
                found = conn.execute(f"select count(*) from {model.name}").fetchone()
                rows = int(found[0]) if found else 0
        except duckdb.Error as exc:
            raise ModelFailed(model.name, exc) from exc
        run = ModelRun(
            name=model.name,
            layer=model.layer,
            rows=rows,
            seconds=time.perf_counter() - started,
            persisted=model.materialized == "table",
        )
        runs.append(run)
        if after_model is not None:
            after_model(run)
    return runs, counts


def _rebuild_slice(
    conn: duckdb.DuckDBPyConnection,
    model: Model,
    sliced_names: list[str],
    counts: dict[tuple[str, str], int],
) -> int:
    """Compute the touched practices' rows of one partitioned model and put them in place."""
    body = _RAW_REFERENCE.sub(lambda m: f"_raw_slice__{m.group(1)}", _body(model.sql))
    body = _rename(body, [n for n in sliced_names if n != model.name], _slice_name)
    slice_table = _slice_name(model.name)
    # Inputs that are not partitioned are whole: keep only the touched practices' rows.
    conn.execute(
        f"create or replace temp table {slice_table} as "
        f"select * from (\n{body}\n) where {IN_TOUCHED}"
    )
    if model.materialized == "table":
        conn.execute(f"delete from {model.name} where {IN_TOUCHED}")
        conn.execute(f"insert into {model.name} select * from {slice_table}")
        found = conn.execute(f"select count(*) from {model.name}").fetchone()
        return int(found[0]) if found else 0
    # Whole models read this one through a view over the whole inputs (evaluated only if read).
    conn.execute(f"create or replace temp view {model.name} as\n{_body(model.sql)}")
    sliced = conn.execute(f"select practice_slug, count(*) from {slice_table} group by all")
    for slug, n in sliced.fetchall():
        counts[(model.name, str(slug))] = int(n)
    return sum(n for (name, _), n in counts.items() if name == model.name)


def incremental_checks(
    checks: Sequence[Check], models: Sequence[Model], plan: BuildPlan
) -> list[Check]:
    """Checks that read only published partitioned models run on the touched practices' rows
    (the other practices' rows were checked when they were built and have not changed)."""
    published = {m.name for m in models if m.materialized == "table" and m.name in plan.partitioned}
    names = [m.name for m in models]
    out: list[Check] = []
    for check in checks:
        probe = Model(name="_check", layer="marts", sql=check.sql)
        used = references(probe, names)
        if used and used <= published:
            out.append(Check(name=check.name, sql=_rename(check.sql, sorted(used), _slice_name)))
        else:
            out.append(check)
    return out

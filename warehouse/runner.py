"""Discover the SQL models, order them by their references, and materialise each as a table."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import duckdb

from warehouse import rules

LAYERS: tuple[str, ...] = ("staging", "intermediate", "marts")
MODELS_DIR = Path(__file__).parent / "models"

_COMMENT = re.compile(r"--[^\n]*")
_KEY_LINE = re.compile(r"^\s*--\s*key:\s*(?P<cols>[\w\s,]+?)\s*$", re.MULTILINE)
_MATERIALIZED_LINE = re.compile(r"^\s*--\s*materialized:\s*(?P<kind>\w+)\s*$", re.MULTILINE)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
MATERIALIZATIONS = ("table", "ephemeral", "view")


class ModelError(RuntimeError):
    """A model set that cannot run: bad name, a cycle, or a reference against the layer order."""


class ModelFailed(RuntimeError):
    """A model's SQL raised while it was being materialised."""

    def __init__(self, model: str, cause: Exception) -> None:
        super().__init__(f"model {model} failed: {cause}")
        self.model = model


@dataclass(frozen=True)
class Model:
    """One SQL model: its table name, layer, select statement and declared key columns."""

    name: str
    layer: str
    sql: str
    key: tuple[str, ...] = ()
    materialized: str = "table"

    @classmethod
    def from_file(cls, path: Path, layer: str) -> Model:
        """Read a model file; the table is named after the file, the key from a `-- key:` line."""
        sql = path.read_text(encoding="utf-8")
        return cls(
            name=path.stem,
            layer=layer,
            sql=sql,
            key=declared_key(sql),
            materialized=declared_materialization(sql),
        )


@dataclass(frozen=True)
class ModelRun:
    """What materialising one model produced."""

    name: str
    layer: str
    rows: int
    seconds: float
    persisted: bool = True


@dataclass(frozen=True)
class BuildParams:
    """What every model reads instead of calling now() or restating a domain fact.

    The one-row `build_params` table holds the clock, the windows, cool-downs and the default
    P(refer | asked) (all from `warehouse.rules`); `build_sla_days` holds the lead-contact and
    loop-closure SLA day counts per practice calendar (the console passes each practice's).
    """

    as_of: datetime
    build_id: str
    ask_window_days: int = rules.ASK_WINDOW_DAYS
    ask_cooldown_days: int = rules.ASK_COOLDOWN_DAYS
    decline_cooldown_days: int = rules.DECLINE_COOLDOWN_DAYS
    review_window_days: int = rules.REVIEW_WINDOW_DAYS
    review_cooldown_days: int = rules.REVIEW_COOLDOWN_DAYS
    ask_rate_window_days: int = rules.ASK_RATE_WINDOW_DAYS
    referral_window_days: int = rules.REFERRAL_WINDOW_DAYS
    conversion_window_days: int = rules.CONVERSION_WINDOW_DAYS
    default_p_refer_given_asked: float = rules.DEFAULT_P_REFER_GIVEN_ASKED
    calendars: Mapping[str, rules.PracticeCalendar] = field(default_factory=dict)


def declared_key(sql: str) -> tuple[str, ...]:
    """The primary-key columns a model declares with a `-- key: a, b` header line."""
    match = _KEY_LINE.search(sql)
    if match is None:
        return ()
    return tuple(col.strip() for col in match.group("cols").split(",") if col.strip())


def declared_materialization(sql: str) -> str:
    """`table` (published), `ephemeral` (a temp table used during the build, not published) or
    `view` (a temp view: a union of other models, read in place, not published)."""
    match = _MATERIALIZED_LINE.search(sql)
    return match.group("kind") if match else "table"


def discover_models(root: Path = MODELS_DIR) -> list[Model]:
    """Every `<root>/<layer>/*.sql` model, in layer then file-name order."""
    found: list[Model] = []
    for layer in LAYERS:
        folder = root / layer
        if folder.is_dir():
            found.extend(Model.from_file(path, layer) for path in sorted(folder.glob("*.sql")))
    return found


def references(model: Model, names: Iterable[str]) -> set[str]:
    """The other models this model's SQL mentions (comments ignored)."""
    return set(_references(model.name, model.sql, frozenset(names)))


@lru_cache(maxsize=4096)
def _references(own: str, sql: str, names: frozenset[str]) -> frozenset[str]:
    """`references` for one model text and set of names, worked out once per process: every
    build asks the same questions of the same texts (~240 regex scans a build, ~0.27 CPU-s,
    which a 12-practice nightly build in the simulator repeats every night)."""
    body = _COMMENT.sub(" ", sql).lower()
    return frozenset(
        name
        for name in names
        if name != own and re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", body)
    )


def order_models(models: Sequence[Model]) -> list[Model]:
    """Models in dependency order (a topological sort, ties broken by layer then name)."""
    by_name: dict[str, Model] = {}
    for model in models:
        if not _NAME.match(model.name):
            raise ModelError(f"model name {model.name!r} must be lowercase snake_case")
        if model.layer not in LAYERS:
            raise ModelError(f"model {model.name} has unknown layer {model.layer!r}")
        if model.materialized not in MATERIALIZATIONS:
            raise ModelError(f"model {model.name} has unknown materialization {model.materialized}")
        if model.name in by_name:
            raise ModelError(f"two models are named {model.name}")
        by_name[model.name] = model
    deps = {name: references(model, by_name) for name, model in by_name.items()}
    for name, model_deps in deps.items():
        for dep in model_deps:
            if LAYERS.index(by_name[dep].layer) > LAYERS.index(by_name[name].layer):
                raise ModelError(
                    f"{by_name[name].layer} model {name} may not read "
                    f"{by_name[dep].layer} model {dep}"
                )
    ordered: list[Model] = []
    done: set[str] = set()
    pending = dict(deps)
    while pending:
        ready = sorted(
            (name for name, model_deps in pending.items() if model_deps <= done),
            key=lambda name: (LAYERS.index(by_name[name].layer), name),
        )
        if not ready:
            raise ModelError(f"models reference each other in a cycle: {sorted(pending)}")
        ordered.extend(by_name[name] for name in ready)
        done.update(ready)
        for name in ready:
            del pending[name]
    return ordered


def create_build_params(conn: duckdb.DuckDBPyConnection, params: BuildParams) -> None:
    """Write `build_params` (one row: clock, windows, cool-downs, default rates) and
    `build_sla_days` (SLA day counts per practice calendar and weekday) for the models."""
    values: dict[str, object] = {
        "as_of": params.as_of,
        "build_id": params.build_id,
        "ask_window_days": params.ask_window_days,
        "ask_cooldown_days": params.ask_cooldown_days,
        "decline_cooldown_days": params.decline_cooldown_days,
        "review_window_days": params.review_window_days,
        "review_cooldown_days": params.review_cooldown_days,
        "ask_rate_window_days": params.ask_rate_window_days,
        "referral_window_days": params.referral_window_days,
        "conversion_window_days": params.conversion_window_days,
        "default_p_refer_given_asked": params.default_p_refer_given_asked,
    }
    types = {"as_of": "timestamptz", "build_id": "varchar", "default_p_refer_given_asked": "double"}
    columns = ",\n    ".join(
        f"cast(${name} as {types.get(name, 'integer')}) as {name}" for name in values
    )
    conn.execute(f"create or replace table build_params as\nselect\n    {columns}", values)
    conn.execute(
        "create or replace table build_sla_days (practice_slug varchar, iso_weekday integer, "
        "contact_days integer, loop_days integer)"
    )
    # One insert of the whole set from four lists, not `executemany` (a statement per row:
    # 2.7 CPU-s for 1,000 practices' 7,007 rows) nor a registered Arrow table (its first use
    # in a process imports pyarrow and pandas: ~0.2-0.4 s of a `loopdesk build` after a drop).
    slugs, weekdays, contact, loop = (list(c) for c in zip(
        *rules.sla_day_rows(params.calendars), strict=True))
    conn.execute(
        "insert into build_sla_days select unnest($slugs::varchar[]), "
        "unnest($weekdays::integer[]), unnest($contact::integer[]), unnest($loop::integer[])",
        {"slugs": slugs, "weekdays": weekdays, "contact": contact, "loop": loop},
    )


def _select_body(sql: str) -> str:
    """The model's select statement without a trailing semicolon."""
    return sql.strip().rstrip(";").strip()


def run_models(
    conn: duckdb.DuckDBPyConnection,
    models: Sequence[Model],
    *,
    after_model: Callable[[ModelRun], None] | None = None,
    count_rows: Callable[[duckdb.DuckDBPyConnection, Model], int] | None = None,
    keep: Collection[str] | None = None,
) -> list[ModelRun]:
    """Materialise every model as a table in dependency order; ModelFailed on the first error.

    `count_rows` counts a model's rows once it exists (default `select count(*)`; a view is
    evaluated by it, so a caller that needs more than the total from a view counts it there).
    With `keep` (what is read after the models: the checks' tables), an ephemeral model's temp
    table is dropped as soon as no later model reads it, directly or through a view: its memory
    goes back to the later marts instead of spilling them to disk."""
    ordered = order_models(models)
    release = _release_points(ordered, keep) if keep is not None else {}
    runs: list[ModelRun] = []
    for position, model in enumerate(ordered):
        started = time.perf_counter()
        # Ephemeral models are big pass-through steps: a temp table is not compressed into the
        # published file, which keeps the build fast; later models and checks still read it.
        kind = {"ephemeral": "temp table", "view": "temp view"}.get(model.materialized, "table")
        try:
            conn.execute(f"create or replace {kind} {model.name} as\n{_select_body(model.sql)}")
            rows = (count_rows or _count_rows)(conn, model)
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
        for name in release.get(position, ()):
            conn.execute(f"drop table if exists temp.main.{name}")
    return runs


def _release_points(ordered: Sequence[Model], keep: Collection[str]) -> dict[int, list[str]]:
    """position in `ordered` -> the ephemeral models no model after it reads (through views
    too), unless in `keep` or read by a view that is in `keep`."""
    names = [model.name for model in ordered]
    deps = {model.name: references(model, names) for model in ordered}
    views = {model.name for model in ordered if model.materialized == "view"}

    def reads(name: str) -> set[str]:  # what evaluating `name` reads, views expanded
        found: set[str] = set()
        pending = list(deps[name])
        while pending:
            dep = pending.pop()
            if dep not in found:
                found.add(dep)
                if dep in views:
                    pending.extend(deps[dep])
        return found

    kept = set(keep)
    for name in list(kept):
        if name in deps:
            kept |= reads(name)
    last: dict[str, int] = {}
    for position, model in enumerate(ordered):
        for dep in reads(model.name):
            last[dep] = position
    release: dict[int, list[str]] = {}
    for position, model in enumerate(ordered):
        if model.materialized == "ephemeral" and model.name not in kept:
            release.setdefault(max(last.get(model.name, position), position), []).append(model.name)
    return release


def _count_rows(conn: duckdb.DuckDBPyConnection, model: Model) -> int:
    row = conn.execute(f"select count(*) from {model.name}").fetchone()
    return int(row[0]) if row else 0

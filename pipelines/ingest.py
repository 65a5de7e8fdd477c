"""`loopdesk ingest`: pre-check, read, validate, quarantine and load one drop folder.

A practice is loaded as a unit: when any of its files is paused (shape changed) or broken,
none of its files load this run and its previous data stays. Practices are read, validated
and loaded in batches of about INGEST_BATCH_BYTES of input; every INGEST_COMMIT_BATCHES
batches commit in one DuckDB transaction (the last one with the feed status and the run
record), so a killed run leaves every practice either as it was or wholly loaded, and a rerun
converges.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import uuid
from collections.abc import Callable, Generator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

import duckdb
import polars as pl

from loopdesk_core.clock import now as clock_now
from loopdesk_core.settings import get_settings
from pipelines.catalogue import practice_catalogue
from pipelines.contract import PATIENTS, PRACTICE_FILES, PRACTICES, REFERRALS, ExportFile
from pipelines.extract import extract
from pipelines.load import (
    apply_rows,
    declared_formats,
    known_patients,
    known_timezones,
    open_raw_store,
    record_feed_status,
    record_quarantine,
)
from pipelines.precheck import FileCheck, check_file, unsafe_files
from pipelines.source_fhir import read_fhir
from pipelines.source_opendental import read_opendental_csv
from pipelines.sources import SourceRead, detect_format
from pipelines.summary import AGENCY, FileResult, IngestSummary, PracticeResult
from pipelines.validate import Checked, check_rows
from warehouse.paths import raw_db_path

Progress = Callable[[str, int, int], None]

__all__ = ["IngestSummary", "Plan", "SourceError", "ingest", "run_ingest"]


FOLDER_FEED = "(practice folder)"
# Input bytes per batch of practices: peak memory is about 10-15x this over the imports.
INGEST_BATCH_BYTES = 32 * 1024 * 1024
# Batches loaded per commit. DuckDB holds a transaction's appended rows in memory until it
# commits (≈ 60-70 MB per batch here), so this bounds the peak by batches, not practices; a
# commit (and the checkpoint it triggers) has a fixed cost per table, so fewer of them pay
# (docs/benchmarks.md, "Ingest in grouped commits … brief pipeline").
INGEST_COMMIT_BATCHES = 4
# DuckDB threads of the raw store during an ingest: with one, the load (insert + commit) costs
# less CPU than with two, and the preparing thread (polars) has the other core to itself
# (measured, docs/benchmarks.md, same section).
INGEST_DUCKDB_THREADS = 1
# The last batch of a bigger drop holds at most 1/this of INGEST_BATCH_BYTES (see
# `practice_batches`): its load and the run's last commit have no reading beside them.
INGEST_LAST_BATCH_SHARE = 4


class SourceError(ValueError):
    """The drop folder, or the practice folder asked for, does not exist."""


@dataclass
class Plan:
    """How one practice is read this run."""

    format: str | None
    problem: str | None = None
    read: SourceRead | None = None
    catalogue_notes: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # files that are links or outside the drop


def _no_progress(stage: str, done: int, total: int) -> None:
    del stage, done, total


def _practice_folders(source: Path, practice: str | None) -> list[Path]:
    if not source.is_dir():
        raise SourceError(f"no such folder: {source}")
    if practice is not None:
        if practice in ("", ".", "..") or "/" in practice or "\\" in practice:
            raise SourceError(f"'{practice}' is not a practice folder name (no paths)")
        folder = source / practice
        if folder.is_symlink():
            raise SourceError(f"the folder for practice '{practice}' is a symbolic link; refused")
        if not folder.is_dir():
            raise SourceError(f"no folder for practice '{practice}' in {source}")
        return [folder]
    return sorted(p for p in source.iterdir() if p.is_dir() and not p.name.startswith("."))


@dataclass(frozen=True)
class _DropFile:
    """A canonical practice file of the drop, listed before it is checked (`check_file`)."""

    practice: str
    spec: ExportFile
    path: Path


def _list_files(folders: list[Path]) -> dict[str, list[_DropFile]]:
    """Every canonical practice file that exists, by practice (the folders given are canonical,
    except that a FHIR folder's canonical referrals.csv is checked here too). A link is listed
    (and refused by the check), whatever it points at."""
    listed: dict[str, list[_DropFile]] = {folder.name: [] for folder in folders}
    for folder in folders:
        for spec in PRACTICE_FILES:
            path = folder / spec.name
            if path.is_file() or path.is_symlink():
                listed[folder.name].append(_DropFile(folder.name, spec, path))
    return listed


def _check_files(files: list[_DropFile], limit: int) -> list[FileCheck]:
    """The pre-check of listed files (practice folders sit directly in the drop: each file
    must be inside it, no links)."""
    return [check_file(f.path, f.spec, f.practice, limit, drop=f.path.parent.parent) for f in files]


def _check_agency(source: Path, limit: int) -> FileCheck | None:
    root = source / PRACTICES.name
    if not (root.is_file() or root.is_symlink()):
        return None
    return check_file(root, PRACTICES, AGENCY, limit, drop=source)


def _result(summary: IngestSummary, practice: str, file: str) -> FileResult:
    return summary.file_result(practice, file)


def _add_counts(summary: IngestSummary, counts: pl.DataFrame, bad: pl.DataFrame) -> None:
    """Fold per-file applied and quarantined counts into the summary."""
    for row in counts.iter_rows(named=True):
        file = row["_source_file"].rsplit("/", 1)[-1]
        owner = AGENCY if file == PRACTICES.name else row["practice_slug"]
        result = _result(summary, owner, file)
        result.inserted += row["inserted"]
        result.updated += row["updated"]
        result.unchanged += row["unchanged"]
    for row in bad.group_by("practice_slug", "file").len().iter_rows(named=True):
        owner = AGENCY if row["file"] == PRACTICES.name else row["practice_slug"]
        _result(summary, owner, row["file"]).quarantined += row["len"]


def _add_source_counts(summary: IngestSummary, read: SourceRead) -> None:
    """A reader's own quarantine and filtered counts, and a result for every file it read."""
    for file in read.files:
        _result(summary, read.practice, file)
    for row in read.quarantined.group_by("file").len().iter_rows(named=True):
        _result(summary, read.practice, row["file"]).quarantined += row["len"]
    for file, count in read.filtered.items():
        _result(summary, read.practice, file).filtered += count


def _with_timezones(rows: pl.DataFrame, zones: pl.DataFrame) -> pl.DataFrame:
    return rows.join(zones, on="practice_slug", how="left", maintain_order="left")


def _load_kind(
    connection: duckdb.DuckDBPyConnection,
    spec: ExportFile,
    rows: pl.DataFrame | tuple[datetime, Checked],
    *,
    summary: IngestSummary,
    run_id: str,
    known: pl.DataFrame | None,
) -> None:
    """Validate (unless `rows` are already checked, with the instant they were checked at),
    quarantine and apply the rows of one file kind."""
    if isinstance(rows, pl.DataFrame):
        started = clock_now()
        checked = check_rows(rows, spec, now=started, known_patients=known)
    else:
        started, checked = rows
    counts = apply_rows(connection, spec, checked.good, loaded_at=started)
    record_quarantine(connection, checked.bad, run_id=run_id, at=started)
    _add_counts(summary, counts, checked.bad)


def _settle_practices(
    summary: IngestSummary,
    per_practice: dict[str, list[FileCheck]],
    failed: dict[str, str],
    timezones: pl.DataFrame,
    plans: dict[str, Plan],
) -> list[str]:
    """Decide each practice's status; return the practices whose files load this run."""
    known = set(timezones["practice_slug"].to_list())
    loadable: list[str] = []
    for slug, plan in plans.items():
        checks = per_practice.get(slug, [])
        read = plan.read
        problems: list[tuple[str, str, str]] = []
        if slug not in known:
            problems.append(("error", "-", "not in practices.csv (add the practice there first)"))
        if plan.problem:
            problems.append(("paused", "-", plan.problem))
        problems += [("error", "-", text) for text in plan.refused]
        if read is not None:
            problems += read.problems
        for check in checks:
            if str(check.path) in failed:
                problems.append(("error", check.spec.name, failed[str(check.path)]))
            elif not check.loadable:
                problems.append((check.status, check.spec.name, check.message or check.status))
        notes = [f"{c.spec.name}: {c.message}" for c in checks if c.loadable and c.message]
        if read is not None:
            notes += read.notes
        elif plan.format == "canonical":
            missing = [s.name for s in PRACTICE_FILES if s not in {c.spec for c in checks}]
            notes += [f"no {name} in this drop" for name in missing]
        if plan.catalogue_notes:
            notes += plan.catalogue_notes
        files = [c.spec.name for c in checks] + (read.files if read is not None else [])
        if not problems:
            loadable.append(slug)
            summary.practices[slug] = PracticeResult("ok", "; ".join(notes) or None, plan.format)
            for check in checks:
                _result(summary, slug, check.spec.name).message = check.message
            if read is not None:
                _add_source_counts(summary, read)
            continue
        status = "error" if any(kind == "error" for kind, _, _ in problems) else "paused"
        message = "; ".join(
            f"{file}: {text}" if file != "-" else text for _, file, text in problems
        )
        summary.practices[slug] = PracticeResult(
            status, f"not loaded, previous data kept: {message}", plan.format
        )
        own = {file: (kind, text) for kind, file, text in problems}
        for file in files:
            kind, text = own.get(file, (status, f"not loaded: {message}"))
            result = _result(summary, slug, file)
            result.status, result.message = kind, text
        if not files:
            # Nothing readable in the folder: one feed row for the folder itself.
            result = _result(summary, slug, FOLDER_FEED)
            result.status, result.message = status, message
    return loadable


def _feed_rows(summary: IngestSummary) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "practice_slug": [f.practice for f in summary.files],
            "file": [f.file for f in summary.files],
            "status": [f.status for f in summary.files],
            "message": [f.message for f in summary.files],
        },
        schema={name: pl.String for name in ("practice_slug", "file", "status", "message")},
    )


def ingest(
    source: Path,
    *,
    practice: str | None = None,
    progress: Progress | None = None,
    max_file_bytes: int | None = None,
    batch_bytes: int | None = None,
) -> IngestSummary:
    """Load a drop folder (practices.csv + one folder per practice) into the raw store.

    Each practice folder is read by its format (canonical CSV, FHIR NDJSON, Open Dental table
    CSVs: practices.csv `source_format`, else what its files show); every format's rows go
    through the same validation, quarantine and load.
    """
    folders = _practice_folders(source, practice)
    limit = max_file_bytes or get_settings().ingest_max_file_bytes
    agency = _check_agency(source, limit)

    def read_folders(connection: duckdb.DuckDBPyConnection, report: Progress) -> dict[str, Plan]:
        declared = declared_formats(connection)
        plans: dict[str, Plan] = {}
        for done, folder in enumerate(folders, start=1):
            plans[folder.name] = _plan(folder, declared.get(folder.name), limit)
            report("reading practice folders", done, len(folders))
        return plans

    return run_ingest(
        agency=agency,
        practice=practice,
        progress=progress,
        plan_practices=read_folders,
        canonical_folders=lambda plans: [
            f for f in folders if plans[f.name].format in ("canonical", "fhir")
        ],
        limit=limit,
        batch_bytes=batch_bytes,
    )


def run_ingest(
    *,
    agency: FileCheck | None,
    practice: str | None,
    progress: Progress | None,
    plan_practices: Callable[[duckdb.DuckDBPyConnection, Progress], dict[str, Plan]],
    canonical_folders: Callable[[dict[str, Plan]], list[Path]],
    limit: int,
    after_load: Callable[[duckdb.DuckDBPyConnection, list[str], dict[str, Plan]], None]
    | None = None,
    batch_bytes: int | None = None,
) -> IngestSummary:
    """The shared pipeline: practices.csv, then each practice's rows from its source, validated,
    quarantined and loaded.

    Practices are read, validated and loaded a batch at a time (`practice_batches`), one
    DuckDB transaction per batch: every check is within one practice, so batches give the same
    rows as one pass, and peak memory follows the batch, not the drop."""
    report = progress or _no_progress
    started = clock_now()
    summary = IngestSummary(run_id=f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}")
    connection = open_raw_store(str(raw_db_path()))
    try:
        connection.execute(f"set threads = {INGEST_DUCKDB_THREADS}")
        connection.begin()
        if agency is not None:
            _load_practices(connection, agency, practice, summary)
        plans = plan_practices(connection, report)
        listed = _list_files(canonical_folders(plans))
        # A FHIR folder loads only its canonical referrals.csv through the CSV path.
        for slug, files in listed.items():
            if plans[slug].format == "fhir":
                listed[slug] = [f for f in files if f.spec is REFERRALS]
        loadable: list[str] = []
        budget = batch_bytes or INGEST_BATCH_BYTES
        batches = practice_batches(
            plans, listed, budget, last_budget=max(budget // INGEST_LAST_BATCH_SHARE, 1)
        )
        # raw_practices does not change while the batches load (only practices.csv writes it).
        timezones = known_timezones(connection)
        # Each batch's files are pre-checked by the preparing thread with its reading (a full
        # pass over every file: ~0.6 CPU-s at 1,000 practices that ran before any batch).
        prepare = functools.partial(
            _prepare_batch, plans=plans, listed=listed, limit=limit, timezones=timezones
        )
        files_total = sum(len(files) for files in listed.values())
        files_checked = 0
        # The preparing thread's own connection (it only reads).
        with (
            connection.cursor() as reader,
            contextlib.closing(_prepared_batches(batches, prepare, reader)) as prepared_batches,
        ):
            for number in range(1, len(batches) + 1):
                try:
                    prepared = next(prepared_batches)
                except Exception:
                    # Reading or validating a later batch failed: the batches loaded since
                    # the last commit are whole practices, so they are kept, as if each
                    # batch had committed (nothing of the failed batch was written).
                    connection.commit()
                    connection.begin()
                    raise
                files_checked += sum(len(checks) for checks in prepared.checks.values())
                report("checking files", files_checked, files_total)
                report("loading practices", number, len(batches))
                loadable += _apply_batch(
                    connection,
                    prepared,
                    plans=plans,
                    timezones=timezones,
                    summary=summary,
                    started=started,
                )
                del prepared
                if _commits_after(number, len(batches)):
                    # DuckDB holds a transaction's appended rows in memory until it commits:
                    # a commit every few batches keeps the peak flat (a practice still loads
                    # whole or not at all; docs/architecture-notes.md, "Ingest in batches").
                    connection.commit()
                    connection.begin()
        if after_load is not None:
            after_load(connection, loadable, plans)
        record_feed_status(connection, _feed_rows(summary), at=started)
        connection.execute(
            "insert into ingest_runs (run_id, started_at, finished_at, summary_json) "
            "values ($run_id, $started, $finished, $summary)",
            {
                "run_id": summary.run_id,
                "started": started,
                "finished": clock_now(),
                "summary": json.dumps(summary.to_json()),
            },
        )
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        # The setting is the database's: another connection of this process to the same store
        # (if one is open) gets its default back.
        with contextlib.suppress(duckdb.Error):
            connection.execute("reset threads")
        connection.close()
    return summary


def _commits_after(number: int, batches: int) -> bool:
    """Whether the load commits after batch `number` (1-based) of `batches`, before the next.

    The groups of INGEST_COMMIT_BATCHES batches are counted from the end, the last group being
    the last two batches (a full one and the small last one, `practice_batches`): the commit
    before them then overlaps the reading and validation of a full batch, and the run's tail
    (the last loads and commit, nothing left to prepare beside them) holds less than a batch and
    a half. Before, the last commit held up to four batches, ~1.2-1.9 s of a ~13 s run at 1,000
    practices on one core (docs/benchmarks.md, brief pipe3x)."""
    before_last_two = batches - 2 - number
    return number >= 1 and before_last_two >= 0 and before_last_two % INGEST_COMMIT_BATCHES == 0


class _HasPath(Protocol):
    @property
    def path(self) -> Path: ...


def practice_batches(
    plans: dict[str, Plan],
    per_practice: Mapping[str, Sequence[_HasPath]],
    budget: int,
    *,
    last_budget: int | None = None,
) -> list[list[str]]:
    """Practices in plan order, cut into runs whose input is at most about `budget` bytes
    (files on disk for canonical files, the frames in memory for other readers); a practice
    bigger than the budget is a batch of its own.

    With `last_budget`, a drop bigger than one batch ends with a batch of the last practices
    holding at most that many bytes (at least one practice): the last batch is loaded and
    committed with nothing left to prepare beside it, so a small one shortens the run's tail."""
    weights = [
        sum(_file_bytes(check.path) for check in per_practice.get(slug, []))
        + (
            sum(int(frame.estimated_size()) for frame in plan.read.rows.values())
            if plan.read is not None
            else 0
        )
        for slug, plan in plans.items()
    ]
    slugs = list(plans)
    last: list[str] = []
    if last_budget is not None and sum(weights) > budget and len(slugs) > 1:
        size = 0
        while len(slugs) > 1 and (not last or size + weights[len(slugs) - 1] <= last_budget):
            size += weights[len(slugs) - 1]
            last.insert(0, slugs.pop())
    batches: list[list[str]] = []
    size = 0
    for slug, weight in zip(slugs, weights[: len(slugs)], strict=True):
        if not batches or (size + weight > budget and batches[-1]):
            batches.append([])
            size = 0
        batches[-1].append(slug)
        size += weight
    return [*batches, last] if last else batches


def _file_bytes(path: Path) -> int:
    try:
        return path.lstat().st_size
    except OSError:
        return 0


@dataclass
class _Prepared:
    """One batch read and validated, ready to load: which practices load, and each kind's
    checked rows with the instant they were checked at (their `_loaded_at`)."""

    batch: list[str]
    checks: dict[str, list[FileCheck]]  # the batch's practices' pre-checked canonical files
    failed: dict[str, str]
    loadable: list[str]
    checked: dict[str, tuple[datetime, Checked]]


def _prepare_batch(
    batch: list[str],
    reader: duckdb.DuckDBPyConnection,
    *,
    plans: dict[str, Plan],
    listed: dict[str, list[_DropFile]],
    limit: int,
    timezones: pl.DataFrame,
) -> _Prepared:
    """Read and validate one batch of practices; nothing is written (see `_apply_batch`).

    `reader` is a connection of its own (this runs beside the load of the previous batch):
    it reads only the batch's own practices' stored patients, which no other batch of this
    run writes, so what it sees is what the load would see."""
    batch_plans = {slug: plans[slug] for slug in batch}
    batch_checks = {slug: _check_files(listed[slug], limit) for slug in batch if slug in listed}
    checks = [check for group in batch_checks.values() for check in group]
    extracted = {
        spec.name: extract([c for c in checks if c.spec is spec], spec) for spec in PRACTICE_FILES
    }
    failed = {path: msg for e in extracted.values() for path, msg in e.failed.items()}
    # The same decision `_apply_batch` records in the run's summary (a scratch one here).
    loadable = _settle_practices(
        IngestSummary(run_id="-"), batch_checks, failed, timezones, batch_plans
    )
    checked: dict[str, tuple[datetime, Checked]] = {}
    if not loadable:
        return _Prepared(batch, batch_checks, failed, loadable, checked)
    keep = pl.col("practice_slug").is_in(loadable)
    zones = timezones.filter(keep)
    # The canonical rows are all of the batch's practices: when every one loads, nothing
    # is dropped and the filter (a copy of every column) is skipped.
    every_one_loads = set(batch_checks) <= set(loadable)
    reads = [p.read for slug, p in batch_plans.items() if p.read is not None and slug in loadable]
    known: pl.DataFrame | None = None
    for spec in PRACTICE_FILES:
        # Pop each kind as it is checked so its text columns are freed before the next one.
        canonical = extracted.pop(spec.name).rows
        if not every_one_loads:
            canonical = canonical.filter(keep)
        frames = [canonical.with_columns(_source_format=pl.lit("canonical"))]
        frames += [
            r.rows[spec.name].with_columns(_source_format=pl.lit(r.format))
            for r in reads
            if spec.name in r.rows
        ]
        rows = _with_timezones(pl.concat(frames, how="diagonal_relaxed"), zones)
        del frames, canonical
        at = clock_now()
        result = check_rows(rows, spec, now=at, known_patients=known)
        checked[spec.name] = (at, result)
        del rows
        if spec is PATIENTS:
            # After the load, the store's patients of these practices are the ones it held
            # before and this batch's good ones (a load only inserts and updates).
            known = pl.concat(
                [
                    known_patients(reader, loadable),
                    result.good.select("practice_slug", "patient_id"),
                ]
            )
    return _Prepared(batch, batch_checks, failed, loadable, checked)


def _prepared_batches(
    batches: list[list[str]],
    prepare: Callable[[list[str], duckdb.DuckDBPyConnection], _Prepared],
    reader: duckdb.DuckDBPyConnection,
) -> Generator[_Prepared, None, None]:
    """`prepare(batch)` for each batch in order, the next one prepared in a thread while the
    caller loads this one: polars (read, validation) and DuckDB (insert, commit) release the
    GIL, so the two use both cores. At most two batches are in memory at once."""
    if not batches:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-prepare") as pool:
        # Each batch runs in a copy of the caller's context: the clock `pinned` there (the
        # simulator's) is what validation and the load stamps read.
        def submit(batch: list[str]) -> Future[_Prepared]:
            return pool.submit(contextvars.copy_context().run, prepare, batch, reader)

        pending: Future[_Prepared] | None = submit(batches[0])
        try:
            for number in range(len(batches)):
                assert pending is not None
                prepared = pending.result()
                pending = submit(batches[number + 1]) if number + 1 < len(batches) else None
                yield prepared
                del prepared
        finally:
            if pending is not None:
                pending.cancel()


def _apply_batch(
    connection: duckdb.DuckDBPyConnection,
    prepared: _Prepared,
    *,
    plans: dict[str, Plan],
    timezones: pl.DataFrame,
    summary: IngestSummary,
    started: datetime,
) -> list[str]:
    """Settle and load one prepared batch; return the practices that loaded."""
    batch_plans = {slug: plans[slug] for slug in prepared.batch}
    loadable = _settle_practices(summary, prepared.checks, prepared.failed, timezones, batch_plans)
    if loadable != prepared.loadable:  # the same inputs decide both: a bug if they differ
        raise RuntimeError("ingest: a batch's loadable practices changed between its steps")
    if not loadable:
        return loadable
    for slug, plan in batch_plans.items():
        if plan.read is not None and slug in loadable:
            record_quarantine(
                connection, plan.read.quarantined, run_id=summary.run_id, at=started
            )
    for spec in PRACTICE_FILES:
        _load_kind(
            connection, spec, prepared.checked.pop(spec.name),
            summary=summary, run_id=summary.run_id, known=None,
        )
    return loadable


def _plan(folder: Path, declared: str | None, limit: int) -> Plan:
    """How one practice folder is read: its format, and a reader's rows when not canonical."""
    detected = detect_format(folder, declared)
    if detected.format is None:
        return Plan(format=None, problem=detected.problem)
    if detected.format == "canonical":
        return Plan(format="canonical")  # its files are checked one by one (_check_files)
    # FHIR and Open Dental readers open the folder's files themselves: refuse the practice if
    # any file is a link or resolves outside the drop (another practice's data, or anything).
    refused = unsafe_files(folder, folder.parent)
    if refused:
        return Plan(format=detected.format, refused=refused)
    catalogue = practice_catalogue(folder)
    if detected.format == "fhir":
        read = read_fhir(folder, folder.name, catalogue, max_file_bytes=limit)
    else:
        read = read_opendental_csv(folder, folder.name, catalogue, max_file_bytes=limit)
    return Plan(format=detected.format, read=read, catalogue_notes=catalogue.problems)


def _load_practices(
    connection: duckdb.DuckDBPyConnection,
    check: FileCheck,
    practice: str | None,
    summary: IngestSummary,
) -> None:
    """Upsert raw_practices from practices.csv (only `practice`'s row when one is asked for)."""
    result = _result(summary, AGENCY, PRACTICES.name)
    result.status, result.message = check.status, check.message
    if not check.loadable:
        return
    extracted = extract([check], PRACTICES)
    if extracted.failed:
        result.status, result.message = "error", next(iter(extracted.failed.values()))
        return
    rows = extracted.rows
    if practice is not None:
        rows = rows.filter(pl.col("practice_slug").str.strip_chars() == practice)
    rows = rows.with_columns(pl.col("timezone").str.strip_chars())
    _load_kind(connection, PRACTICES, rows, summary=summary, run_id=summary.run_id, known=None)

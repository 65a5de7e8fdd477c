"""`loopdesk ingest`: pre-check, read, validate, quarantine and load one drop folder.

A practice is loaded as a unit: when any of its files is paused (shape changed) or broken,
none of its files load this run and its previous data stays. Everything the run writes
(raw rows, quarantine, feed status, the run record) commits in one DuckDB transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl

from console.clock import now as clock_now
from console.settings import get_settings
from pipelines.contract import PRACTICE_FILES, PRACTICES, ExportFile
from pipelines.extract import extract
from pipelines.load import (
    apply_rows,
    known_patients,
    known_timezones,
    open_raw_store,
    record_feed_status,
    record_quarantine,
)
from pipelines.precheck import FileCheck, check_file
from pipelines.summary import AGENCY, FileResult, IngestSummary, PracticeResult
from pipelines.validate import check_rows
from warehouse.paths import raw_db_path

Progress = Callable[[str, int, int], None]

__all__ = ["IngestSummary", "SourceError", "ingest"]


class SourceError(ValueError):
    """The drop folder, or the practice folder asked for, does not exist."""


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


def _precheck(
    source: Path, folders: list[Path], limit: int, progress: Progress
) -> tuple[FileCheck | None, dict[str, list[FileCheck]]]:
    """Check practices.csv and every practice file that exists."""
    root = source / PRACTICES.name
    # A link is listed (and refused by the check), whatever it points at.
    paths = [(AGENCY, PRACTICES, root)] if root.is_file() or root.is_symlink() else []
    paths += [
        (folder.name, spec, folder / spec.name)
        for folder in folders
        for spec in PRACTICE_FILES
        if (folder / spec.name).is_file() or (folder / spec.name).is_symlink()
    ]
    agency: FileCheck | None = None
    per_practice: dict[str, list[FileCheck]] = {folder.name: [] for folder in folders}
    for done, (slug, spec, path) in enumerate(paths, start=1):
        check = check_file(path, spec, slug, limit, drop=source)
        if spec is PRACTICES:
            agency = check
        else:
            per_practice[slug].append(check)
        progress("checking files", done, len(paths))
    return agency, per_practice


def _result(summary: IngestSummary, practice: str, file: str) -> FileResult:
    for existing in summary.files:
        if existing.practice == practice and existing.file == file:
            return existing
    created = FileResult(practice=practice, file=file)
    summary.files.append(created)
    return created


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


def _with_timezones(rows: pl.DataFrame, zones: pl.DataFrame) -> pl.DataFrame:
    return rows.join(zones, on="practice_slug", how="left", maintain_order="left")


def _load_kind(
    connection: duckdb.DuckDBPyConnection,
    spec: ExportFile,
    rows: pl.DataFrame,
    *,
    summary: IngestSummary,
    run_id: str,
    known: pl.DataFrame | None,
) -> None:
    """Validate, quarantine and apply the rows of one file kind."""
    started = clock_now()
    checked = check_rows(rows, spec, now=started, known_patients=known)
    counts = apply_rows(connection, spec, checked.good, loaded_at=started)
    record_quarantine(connection, checked.bad, run_id=run_id, at=started)
    _add_counts(summary, counts, checked.bad)


def _settle_practices(
    summary: IngestSummary,
    per_practice: dict[str, list[FileCheck]],
    failed: dict[str, str],
    timezones: pl.DataFrame,
) -> list[str]:
    """Decide each practice's status; return the practices whose files load this run."""
    known = set(timezones["practice_slug"].to_list())
    loadable: list[str] = []
    for slug, checks in per_practice.items():
        problems: list[tuple[str, str, str]] = []
        if slug not in known:
            problems.append(("error", "-", "not in practices.csv (add the practice there first)"))
        for check in checks:
            if str(check.path) in failed:
                problems.append(("error", check.spec.name, failed[str(check.path)]))
            elif not check.loadable:
                problems.append((check.status, check.spec.name, check.message or check.status))
        notes = [f"{c.spec.name}: {c.message}" for c in checks if c.loadable and c.message]
        missing = [s.name for s in PRACTICE_FILES if s not in {c.spec for c in checks}]
        notes += [f"no {name} in this drop" for name in missing]
        if not problems:
            loadable.append(slug)
            summary.practices[slug] = PracticeResult("ok", "; ".join(notes) or None)
            for check in checks:
                _result(summary, slug, check.spec.name).message = check.message
            continue
        status = "error" if any(kind == "error" for kind, _, _ in problems) else "paused"
        message = "; ".join(
            f"{file}: {text}" if file != "-" else text for _, file, text in problems
        )
        summary.practices[slug] = PracticeResult(
            status, f"not loaded, previous data kept: {message}"
        )
        own = {file: (kind, text) for kind, file, text in problems}
        for check in checks:
            kind, text = own.get(check.spec.name, (status, f"not loaded: {message}"))
            result = _result(summary, slug, check.spec.name)
            result.status, result.message = kind, text
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
) -> IngestSummary:
    """Load a drop folder (practices.csv + one folder per practice) into the raw store."""
    report = progress or _no_progress
    folders = _practice_folders(source, practice)
    limit = max_file_bytes or get_settings().ingest_max_file_bytes
    started = clock_now()
    summary = IngestSummary(run_id=f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}")
    agency, per_practice = _precheck(source, folders, limit, report)
    connection = open_raw_store(str(raw_db_path()))
    try:
        connection.begin()
        if agency is not None:
            _load_practices(connection, agency, practice, summary)
        report("reading", 1, 4)
        timezones = known_timezones(connection)
        checks = [check for group in per_practice.values() for check in group]
        extracted = {
            spec.name: extract([c for c in checks if c.spec is spec], spec)
            for spec in PRACTICE_FILES
        }
        failed = {path: msg for e in extracted.values() for path, msg in e.failed.items()}
        loadable = _settle_practices(summary, per_practice, failed, timezones)
        keep = pl.col("practice_slug").is_in(loadable)
        known: pl.DataFrame | None = None
        for step, spec in enumerate(PRACTICE_FILES, start=2):
            report(f"loading {spec.name}", step, 4)
            # Pop each kind as it loads so its text columns are freed before the next one.
            rows = _with_timezones(extracted.pop(spec.name).rows.filter(keep), timezones)
            _load_kind(connection, spec, rows, summary=summary, run_id=summary.run_id, known=known)
            del rows
            known = known_patients(connection, loadable)
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
        connection.close()
    return summary


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

"""What a source reader hands the shared pipeline, and the format a practice folder shows.

A reader (FHIR NDJSON, Open Dental tables) only extracts: it reads its files, renames their
fields to the canonical contract's columns (as text) and keeps file/line provenance. The rows
then go through the same validation, quarantine and idempotent load as a canonical export.
Besides rows a reader reports what it set aside itself: lines it could not read as records
(quarantine rows) and records it read but does not load (`filtered` per file).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipelines.catalogue import CATALOGUE_FILE
from pipelines.contract import PATIENTS, REFERRALS, TREATMENTS, ExportFile

FORMATS = ("canonical", "fhir", "opendental")

OPENDENTAL_TABLES = (
    "patient",
    "procedurelog",
    "procedurecode",
    "referral",
    "refattach",
    "commoptout",
)
_CANONICAL_MARKERS = (PATIENTS.name, TREATMENTS.name)
_NEUTRAL = (CATALOGUE_FILE, REFERRALS.name)
_EXTENSION = re.compile(r"\s*(?:ext\.?|extension|x|#)\s*\d+\s*$", re.IGNORECASE)

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "practice_slug": pl.String(),
    "file": pl.String(),
    "line": pl.Int32(),
    "column": pl.String(),
    "reason": pl.String(),
    "raw_record": pl.String(),
}


def strip_extension(phone: str | None) -> str | None:
    """A phone without a trailing extension (`312.555.0142 ext 4` -> `312.555.0142`)."""
    if phone is None:
        return None
    text = _EXTENSION.sub("", phone).strip()
    return text or None


def strip_extension_expr(phone: pl.Expr) -> pl.Expr:
    """`strip_extension` over a text column."""
    return phone.str.replace(r"(?i)\s*(?:ext\.?|extension|x|#)\s*\d+\s*$", "").str.strip_chars()


def canonical_frame(spec: ExportFile, records: dict[str, list[object]]) -> pl.DataFrame:
    """A text frame of `spec`'s columns plus provenance (`_file`, `_source_file`, `_line`)."""
    schema: dict[str, pl.DataType] = {name: pl.String() for name in spec.columns}
    schema |= {
        "practice_slug": pl.String(),
        "_file": pl.String(),
        "_source_file": pl.String(),
        "_line": pl.Int64(),
    }
    data = {name: records.get(name, []) for name in schema}
    size = max((len(values) for values in data.values()), default=0)
    for name, values in data.items():
        if not values:
            data[name] = [None] * size
    return pl.DataFrame(data, schema=schema)


@dataclass
class SourceRead:
    """One practice's records from a non-canonical source, ready for the shared pipeline."""

    practice: str
    format: str
    rows: dict[str, pl.DataFrame] = field(default_factory=dict)  # canonical file name -> rows
    quarantined: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema=QUARANTINE_SCHEMA)
    )
    filtered: dict[str, int] = field(default_factory=dict)  # source file -> records not loaded
    files: list[str] = field(default_factory=list)  # every source file read, in order
    notes: list[str] = field(default_factory=list)
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (status, file, message)
    watermarks: dict[str, str] = field(default_factory=dict)  # live reads: table -> high water


@dataclass(frozen=True)
class Detected:
    """The format a practice folder is read by, or why it cannot be read."""

    format: str | None
    problem: str | None = None


def _visible_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def formats_found(names: list[str]) -> dict[str, list[str]]:
    """Formats whose files appear among `names`, with the files that show each."""
    found: dict[str, list[str]] = {}
    for name in names:
        lower = name.lower()
        if name in _CANONICAL_MARKERS:
            found.setdefault("canonical", []).append(name)
        elif lower.endswith(".ndjson"):
            found.setdefault("fhir", []).append(name)
        elif lower.endswith(".csv") and lower[:-4] in OPENDENTAL_TABLES:
            found.setdefault("opendental", []).append(name)
    return found


def detect_format(folder: Path, declared: str | None) -> Detected:
    """The folder's format: `declared` (practices.csv `source_format`) wins over its files."""
    if declared:
        return Detected(declared)
    names = _visible_files(folder)
    found = formats_found(names)
    if len(found) == 1:
        return Detected(next(iter(found)))
    if len(found) > 1:
        shown = "; ".join(
            f"{fmt} ({', '.join(files[:3])}{', ...' if len(files) > 3 else ''})"
            for fmt, files in sorted(found.items())
        )
        return Detected(
            None,
            f"files of more than one format: {shown}; keep one or set source_format "
            "in practices.csv",
        )
    others = [name for name in names if name not in _NEUTRAL]
    if others:
        listed = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        return Detected(
            None,
            f"no files of a known format (found {listed}); expected canonical CSVs, "
            "FHIR NDJSON or Open Dental table CSVs",
        )
    return Detected("canonical")  # nothing but neutral files: read as a canonical drop

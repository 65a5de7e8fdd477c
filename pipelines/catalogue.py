"""The treatment-code catalogue: which codes are treatments Loopdesk works on, and their category.

The shipped catalogue is warehouse seed data (`warehouse/seeds/treatment_catalogue.csv`): CDT,
CPT, HCPCS and SNOMED CT codes of the high-ticket procedures, each with its DOMAIN.md category
and a default value in USD for sources that carry none. A practice folder may hold a
`catalogue.csv` (`system, code, category, value`) that adds codes or overrides shipped ones.
A code that maps to no category is valid data Loopdesk does not work on: it is *filtered*.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from pipelines.contract import TREATMENT_CATEGORIES

CATALOGUE_FILE = "catalogue.csv"
TABLE_SYSTEMS = ("CDT", "CPT", "HCPCS")

# How sources name a code system -> the catalogue's short name (compared lower-cased).
_SYSTEM_ALIASES: dict[str, str] = {
    "http://snomed.info/sct": "SNOMED",
    "snomed": "SNOMED",
    "snomed ct": "SNOMED",
    "sct": "SNOMED",
    "urn:oid:2.16.840.1.113883.6.96": "SNOMED",
    "cdt": "CDT",
    "http://www.ada.org/cdt": "CDT",
    "http://ada.org/cdt": "CDT",
    "urn:oid:2.16.840.1.113883.6.13": "CDT",
    "cpt": "CPT",
    "http://www.ama-assn.org/go/cpt": "CPT",
    "urn:oid:2.16.840.1.113883.6.12": "CPT",
    "hcpcs": "HCPCS",
    "https://www.cms.gov/medicare/coding/hcpcsreleasecodesets": "HCPCS",
    "http://www.cms.gov/medicare/coding/hcpcsreleasecodesets": "HCPCS",
    "urn:oid:2.16.840.1.113883.6.285": "HCPCS",
}

# The FHIR coding system URI the generator writes for each catalogue system.
FHIR_SYSTEM_URIS: dict[str, str] = {
    "SNOMED": "http://snomed.info/sct",
    "CDT": "http://www.ada.org/cdt",
    "CPT": "http://www.ama-assn.org/go/cpt",
    "HCPCS": "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
}


def normalise_system(system: str | None) -> str:
    """The catalogue's name for a code system as a source writes it (unknown ones verbatim)."""
    text = (system or "").strip()
    return _SYSTEM_ALIASES.get(text.lower(), text)


@dataclass(frozen=True)
class Entry:
    """One catalogue code."""

    system: str
    code: str
    category: str
    value: float | None
    description: str | None


@dataclass
class Catalogue:
    """Codes by (system, code), plus a by-code index for table sources that name no system."""

    entries: dict[tuple[str, str], Entry]
    problems: list[str] = field(default_factory=list)

    def lookup(self, system: str | None, code: str | None) -> Entry | None:
        """The entry for a coded value (a FHIR coding: system URI + code)."""
        if not code:
            return None
        return self.entries.get((normalise_system(system), code.strip()))

    def lookup_table_code(self, code: str | None) -> Entry | None:
        """The entry for a table source's code (CDT, CPT or HCPCS, tried in that order)."""
        if not code:
            return None
        text = code.strip()
        for system in TABLE_SYSTEMS:
            entry = self.entries.get((system, text))
            if entry is not None:
                return entry
        return None


def _read(lines: list[str], origin: str) -> tuple[dict[tuple[str, str], Entry], list[str]]:
    reader = csv.DictReader(lines)
    names = [name.strip().lstrip("\ufeff").lower() for name in reader.fieldnames or []]
    missing = [name for name in ("system", "code", "category") if name not in names]
    if missing:
        return {}, [f"{origin}: missing column(s) {', '.join(missing)}; not used"]
    reader.fieldnames = names
    entries: dict[tuple[str, str], Entry] = {}
    problems: list[str] = []
    for line, row in enumerate(reader, start=2):
        system = normalise_system(row.get("system"))
        code = (row.get("code") or "").strip()
        category = (row.get("category") or "").strip().lower()
        raw_value = (row.get("value") or "").strip()
        if not system or not code:
            problems.append(f"{origin} line {line}: no system or code; skipped")
            continue
        if category not in TREATMENT_CATEGORIES:
            problems.append(f"{origin} line {line}: unknown category; skipped")
            continue
        try:
            value = float(raw_value) if raw_value else None
        except ValueError:
            problems.append(f"{origin} line {line}: value is not a number; skipped")
            continue
        if value is not None and not value >= 0:
            problems.append(f"{origin} line {line}: negative value; skipped")
            continue
        description = (row.get("description") or "").strip() or None
        entries[(system, code)] = Entry(system, code, category, value, description)
    return entries, problems


@lru_cache(maxsize=1)
def _shipped() -> dict[tuple[str, str], Entry]:
    text = resources.files("warehouse").joinpath("seeds/treatment_catalogue.csv").read_text()
    entries, problems = _read(text.splitlines(), "shipped catalogue")
    if problems:  # a packaging mistake, not a user's
        raise RuntimeError("; ".join(problems))
    return entries


def shipped_catalogue() -> Catalogue:
    """The catalogue shipped with Loopdesk."""
    return Catalogue(dict(_shipped()))


def practice_catalogue(folder: Path | None) -> Catalogue:
    """The shipped catalogue with the practice folder's `catalogue.csv` laid over it."""
    catalogue = shipped_catalogue()
    if folder is None:
        return catalogue
    path = folder / CATALOGUE_FILE
    if not path.is_file():
        return catalogue
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        catalogue.problems.append(f"{CATALOGUE_FILE}: not readable UTF-8 text; not used")
        return catalogue
    entries, problems = _read(text.splitlines(), CATALOGUE_FILE)
    catalogue.entries.update(entries)
    catalogue.problems.extend(problems)
    return catalogue

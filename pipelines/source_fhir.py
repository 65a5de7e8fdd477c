"""FHIR R4 Bulk Data NDJSON: one resource per line, files named `<Type>[.<n>].ndjson`.

Extract only: Patient -> patients, Procedure -> treatments (completed, coded in the catalogue),
with Encounter (a procedure's date when it gives none), Claim / ExplanationOfBenefit (a
procedure's value) and Consent (per-channel consent) read to enrich them. Every other
resource type is counted and ignored. docs/data-contract.md describes the mapping.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.catalogue import Catalogue
from pipelines.contract import PATIENTS, TREATMENTS
from pipelines.sources import QUARANTINE_SCHEMA, SourceRead, canonical_frame, strip_extension

_FILE_NAME = re.compile(r"^(?P<type>[A-Z][A-Za-z]+)(?:\.[^.]+)?\.ndjson$")
_RAW_LIMIT = 500
_CHANNELS = {
    "call": "call",
    "phone": "call",
    "voice": "call",
    "telephone": "call",
    "text": "text",
    "sms": "text",
    "email": "email",
}
_USE_ORDER = {"mobile": 0, "home": 1, "work": 2, "temp": 3}
_ENRICHING = ("Encounter", "Claim", "ExplanationOfBenefit", "Consent")
# The fields each kept resource type is read for: only these stay in memory (a big export's
# Encounter and Claim resources carry much more), and a quarantined record shows these.
_FIELDS: dict[str, tuple[str, ...]] = {
    "Patient": ("resourceType", "id", "meta", "name", "telecom", "deceasedBoolean",
                "deceasedDateTime", "active"),
    "Procedure": ("resourceType", "id", "status", "code", "subject", "encounter",
                  "performedDateTime", "performedPeriod"),
    "Encounter": ("id", "period"),
    "Claim": ("resourceType", "procedure", "item"),
    "ExplanationOfBenefit": ("resourceType", "procedure", "item"),
    "Consent": ("status", "patient", "dateTime", "provision"),
}


@dataclass
class _Line:
    file: str
    line: int
    resource: dict[str, Any]


@dataclass
class _Collected:
    by_type: dict[str, list[_Line]] = field(default_factory=lambda: defaultdict(list))
    ignored: Counter[str] = field(default_factory=Counter)
    bad: list[dict[str, object]] = field(default_factory=list)
    lines: Counter[str] = field(default_factory=Counter)


def _list(value: object) -> list[Any]:
    """A JSON array field as a list (anything else, e.g. a malformed scalar, as empty)."""
    return value if isinstance(value, list) else []


def _reference_id(reference: object, kind: str) -> str | None:
    """`Patient/abc` (or a full URL ending so) -> `abc`; None when it is not a `kind` reference."""
    if not isinstance(reference, dict):
        return None
    text = reference.get("reference")
    if not isinstance(text, str):
        return None
    parts = text.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == kind and parts[-1]:
        return parts[-1]
    return None


def _read_files(folder: Path, practice: str, limit: int) -> tuple[_Collected, list[str], list]:
    collected = _Collected()
    files: list[str] = []
    problems: list[tuple[str, str, str]] = []
    for path in sorted(folder.glob("*.ndjson")):
        if path.name.startswith("."):
            continue
        files.append(path.name)
        match = _FILE_NAME.match(path.name)
        expected = match.group("type") if match else None
        size = path.stat().st_size
        if size > limit:
            message = f"file is {size} bytes, over the {limit}-byte limit"
            problems.append(("error", path.name, message))
            continue
        if _has_nul(path):
            problems.append(("error", path.name, "binary file (contains NUL bytes)"))
            continue
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                _take_line(collected, practice, path.name, number, raw, expected)
    return collected, files, problems


def _has_nul(path: Path) -> bool:
    """Whether the file holds NUL bytes (a binary file, not NDJSON: the practice is not loaded)."""
    with path.open("rb") as handle:
        while chunk := handle.read(16 * 1024 * 1024):
            if b"\x00" in chunk:
                return True
    return False


def _bad_line(
    collected: _Collected, practice: str, file: str, number: int, raw: bytes, reason: str,
    column: str | None = None,
) -> None:
    text = raw.decode("utf-8", errors="replace").strip()
    collected.bad.append(
        {
            "practice_slug": practice,
            "file": file,
            "line": number,
            "column": column,
            "reason": reason,
            "raw_record": text[:_RAW_LIMIT],
        }
    )


def _take_line(
    collected: _Collected, practice: str, file: str, number: int, raw: bytes, expected: str | None
) -> None:
    try:
        resource = json.loads(raw)
    except UnicodeDecodeError:
        _bad_line(collected, practice, file, number, raw, "not UTF-8 text")
        return
    except ValueError:
        _bad_line(collected, practice, file, number, raw, "not valid JSON")
        return
    kind = resource.get("resourceType") if isinstance(resource, dict) else None
    if not isinstance(kind, str) or not kind:
        reason = "not a FHIR resource (no resourceType)"
        _bad_line(collected, practice, file, number, raw, reason, "resourceType")
        return
    if expected is not None and kind != expected:
        reason = f"resourceType {kind} in a {expected} file"
        _bad_line(collected, practice, file, number, raw, reason, "resourceType")
        return
    fields = _FIELDS.get(kind)
    if fields is not None:
        slim = {name: resource[name] for name in fields if name in resource}
        collected.by_type[kind].append(_Line(file, number, slim))
    else:
        collected.ignored[kind] += 1
        collected.lines[f"ignored:{file}"] += 1


def _best(points: list[dict[str, Any]], system: tuple[str, ...]) -> str | None:
    """The patient's preferred contact point of a system: lowest rank, then mobile > home > work."""
    usable = [
        p
        for p in points
        if isinstance(p, dict)
        and p.get("system") in system
        and isinstance(p.get("value"), str)
        and p.get("use") != "old"
        and not (isinstance(p.get("period"), dict) and p["period"].get("end"))
    ]
    if not usable:
        return None
    usable.sort(
        key=lambda p: (
            p.get("rank") if isinstance(p.get("rank"), int) else 1_000_000,
            _USE_ORDER.get(p.get("use", ""), 9),
        )
    )
    return str(usable[0]["value"])


def _name(resource: dict[str, Any]) -> tuple[str | None, str | None]:
    names = [n for n in _list(resource.get("name")) if isinstance(n, dict)]
    if not names:
        return None, None
    names.sort(key=lambda n: {"official": 0, "usual": 1}.get(n.get("use", ""), 2))
    chosen = names[0]
    given = _list(chosen.get("given"))
    first = given[0] if given and isinstance(given[0], str) else None
    family = chosen.get("family") if isinstance(chosen.get("family"), str) else None
    return first, family


def _codes(concepts: object) -> list[tuple[str | None, str]]:
    """(system, code) of every coding of one or more CodeableConcepts."""
    items = concepts if isinstance(concepts, list) else [concepts]
    found: list[tuple[str | None, str]] = []
    for concept in items:
        if isinstance(concept, dict):
            for coding in _list(concept.get("coding")):
                if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                    found.append((coding.get("system"), coding["code"]))
    return found


def _consents(lines: list[_Line]) -> dict[str, dict[str, bool]]:
    """Patient id -> channel -> permitted, from active Consent resources (later ones win)."""

    def channels(provision: dict[str, Any]) -> list[str]:
        named = {
            _CHANNELS[code.lower()]
            for _, code in _codes(provision.get("action"))
            if code.lower() in _CHANNELS
        }
        return sorted(named) or ["call", "text", "email", "all"]

    def apply(target: dict[str, bool], provision: dict[str, Any]) -> None:
        kind = provision.get("type")
        if kind in ("permit", "deny"):
            for channel in channels(provision):
                target[channel] = kind == "permit"
        for nested in _list(provision.get("provision")):
            if isinstance(nested, dict):
                apply(target, nested)

    ordered = sorted(
        (line for line in lines if line.resource.get("status") == "active"),
        key=lambda line: str(line.resource.get("dateTime") or ""),
    )
    result: dict[str, dict[str, bool]] = defaultdict(dict)
    for line in ordered:
        patient = _reference_id(line.resource.get("patient"), "Patient")
        provision = line.resource.get("provision")
        if patient and isinstance(provision, dict):
            apply(result[patient], provision)
    return result


def _patients(practice: str, lines: list[_Line], consent: dict[str, dict[str, bool]]) -> tuple[
    pl.DataFrame, list[dict[str, object]]
]:
    records: dict[str, list[object]] = defaultdict(list)
    bad: list[dict[str, object]] = []
    for line in lines:
        resource = line.resource
        patient_id = resource.get("id")
        if not isinstance(patient_id, str) or not patient_id:
            bad.append(_bad(practice, line, "id", "Patient without an id"))
            continue
        points = _list(resource.get("telecom"))
        first, last = _name(resource)
        deceased = bool(resource.get("deceasedBoolean")) or bool(resource.get("deceasedDateTime"))
        retired = resource.get("active") is False  # a record no longer in use: never contacted
        given = consent.get(patient_id, {})
        blanket_deny = given.get("all") is False
        meta = resource.get("meta") if isinstance(resource.get("meta"), dict) else {}
        row = {
            "patient_id": patient_id,
            "first_name": first,
            "last_name": last,
            "phone": strip_extension(_best(points, ("phone", "sms"))),
            "email": _best(points, ("email",)),
            # Consent defaults (docs/data-contract.md): calls to the number the patient gave
            # are allowed, texts and emails only once consent is recorded.
            "consent_call": _flag(given.get("call", True)),
            "consent_text": _flag(given.get("text", False)),
            "consent_email": _flag(given.get("email", False)),
            "do_not_contact": _flag(deceased or retired or blanket_deny),
            "satisfaction_score": None,
            "updated_at": meta.get("lastUpdated") if isinstance(meta, dict) else None,
        }
        _append(records, practice, line, row)
    return canonical_frame(PATIENTS, records), bad


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _append(records: dict[str, list[object]], practice: str, line: _Line, row: dict) -> None:
    for name, value in row.items():
        # Text columns: a malformed non-text value (a number, an object) is kept as its JSON so
        # validation rejects it with the usual reason.
        text = value if value is None or isinstance(value, str) else json.dumps(value)
        records[name].append(text)
    records["practice_slug"].append(practice)
    records["_file"].append(line.file)
    records["_source_file"].append(f"{practice}/{line.file}")
    records["_line"].append(line.line)


def _bad(practice: str, line: _Line, column: str | None, reason: str) -> dict[str, object]:
    return {
        "practice_slug": practice,
        "file": line.file,
        "line": line.line,
        "column": column,
        "reason": reason,
        "raw_record": json.dumps(line.resource, separators=(",", ":"))[:_RAW_LIMIT],
    }


def _values(lines: list[_Line]) -> tuple[dict[str, float], dict[tuple[str, str], float]]:
    """Item values of claims: by procedure id, and by (encounter id, code)."""
    by_procedure: dict[str, float] = {}
    by_encounter: dict[tuple[str, str], float] = {}
    # ExplanationOfBenefit (adjudicated) first, so its values win over the Claim's.
    ordered = sorted(
        lines, key=lambda line: line.resource.get("resourceType") != "ExplanationOfBenefit"
    )
    for line in ordered:
        resource = line.resource
        procedures: dict[int, str] = {}
        for entry in _list(resource.get("procedure")):
            if isinstance(entry, dict) and isinstance(entry.get("sequence"), int):
                target = _reference_id(entry.get("procedureReference"), "Procedure")
                if target:
                    procedures[entry["sequence"]] = target
        for item in _list(resource.get("item")):
            if not isinstance(item, dict):
                continue
            value = _item_value(item)
            if value is None:
                continue
            for sequence in _list(item.get("procedureSequence")):
                if isinstance(sequence, int) and sequence in procedures:
                    by_procedure.setdefault(procedures[sequence], value)
            for encounter in _list(item.get("encounter")):
                encounter_id = _reference_id(encounter, "Encounter")
                if encounter_id:
                    for _, code in _codes(item.get("productOrService")):
                        by_encounter.setdefault((encounter_id, code), value)
    return by_procedure, by_encounter


def _item_value(item: dict[str, Any]) -> float | None:
    net = item.get("net")
    if isinstance(net, dict) and isinstance(net.get("value"), int | float):
        return float(net["value"])
    price = item.get("unitPrice")
    if isinstance(price, dict) and isinstance(price.get("value"), int | float):
        quantity = item.get("quantity")
        count = quantity.get("value") if isinstance(quantity, dict) else None
        return float(price["value"]) * (float(count) if isinstance(count, int | float) else 1.0)
    return None


def _encounter_ends(lines: list[_Line]) -> dict[str, str]:
    ends: dict[str, str] = {}
    for line in lines:
        period = line.resource.get("period")
        encounter_id = line.resource.get("id")
        if isinstance(encounter_id, str) and isinstance(period, dict):
            when = period.get("end") or period.get("start")
            if isinstance(when, str):
                ends[encounter_id] = when
    return ends


def _treatments(
    practice: str,
    lines: list[_Line],
    catalogue: Catalogue,
    encounters: dict[str, str],
    claims: list[_Line],
) -> tuple[pl.DataFrame, list[dict[str, object]], Counter[str]]:
    by_procedure, by_encounter = _values(claims)
    records: dict[str, list[object]] = defaultdict(list)
    bad: list[dict[str, object]] = []
    filtered: Counter[str] = Counter()
    for line in lines:
        resource = line.resource
        if resource.get("status") != "completed":
            filtered[line.file] += 1  # planned, in progress, stopped... not a treatment yet
            continue
        codes = _codes(resource.get("code"))
        entry = next(
            (found for system, code in codes if (found := catalogue.lookup(system, code))),
            None,
        )
        if entry is None:
            filtered[line.file] += 1  # a code Loopdesk does not work on
            continue
        procedure_id = resource.get("id")
        if not isinstance(procedure_id, str) or not procedure_id:
            bad.append(_bad(practice, line, "id", "Procedure without an id"))
            continue
        patient_id = _reference_id(resource.get("subject"), "Patient")
        if patient_id is None:
            bad.append(_bad(practice, line, "subject", "subject is not a Patient reference"))
            continue
        encounter_id = _reference_id(resource.get("encounter"), "Encounter")
        period = resource.get("performedPeriod")
        performed = resource.get("performedDateTime") or (
            (period.get("end") or period.get("start")) if isinstance(period, dict) else None
        )
        if not performed and encounter_id:
            performed = encounters.get(encounter_id)
        value = by_procedure.get(procedure_id)
        if value is None and encounter_id:
            value = by_encounter.get((encounter_id, entry.code))
        if value is None:
            value = entry.value
        code_field = resource.get("code")
        concept: dict[str, Any] = code_field if isinstance(code_field, dict) else {}
        display = next(
            (
                coding.get("display")
                for coding in _list(concept.get("coding"))
                if isinstance(coding, dict) and coding.get("code") == entry.code
            ),
            None,
        )
        row = {
            "treatment_id": procedure_id,
            "patient_id": patient_id,
            "treatment_code": entry.code,
            "category": entry.category,
            "description": display or concept.get("text") or entry.description,
            "value": None if value is None else _number(value),
            "completed_at": performed if isinstance(performed, str) else None,
            "results_visible_at": None,
        }
        _append(records, practice, line, row)
    return canonical_frame(TREATMENTS, records), bad, filtered


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def read_fhir(
    folder: Path, practice: str, catalogue: Catalogue, *, max_file_bytes: int
) -> SourceRead:
    """Read one practice folder of FHIR Bulk Data NDJSON."""
    collected, files, problems = _read_files(folder, practice, max_file_bytes)
    read = SourceRead(practice=practice, format="fhir", files=files, problems=problems)
    consent = _consents(collected.by_type.get("Consent", []))
    patients, bad_patients = _patients(practice, collected.by_type.get("Patient", []), consent)
    claims = collected.by_type.get("Claim", []) + collected.by_type.get("ExplanationOfBenefit", [])
    treatments, bad_treatments, filtered = _treatments(
        practice,
        collected.by_type.get("Procedure", []),
        catalogue,
        _encounter_ends(collected.by_type.get("Encounter", [])),
        claims,
    )
    read.rows = {PATIENTS.name: patients, TREATMENTS.name: treatments}
    bad = collected.bad + bad_patients + bad_treatments
    read.quarantined = pl.DataFrame(bad, schema=QUARANTINE_SCHEMA) if bad else read.quarantined
    for kind in _ENRICHING:
        for line in collected.by_type.get(kind, []):
            filtered[line.file] += 1  # read to enrich patients and procedures, not loaded
    for key, count in collected.lines.items():
        if key.startswith("ignored:"):
            filtered[key.removeprefix("ignored:")] += count
    read.filtered = dict(filtered)
    if collected.ignored:
        listed = ", ".join(f"{count} {kind}" for kind, count in sorted(collected.ignored.items()))
        read.notes.append(f"ignored resource types: {listed}")
    if not collected.by_type.get("Patient"):
        read.notes.append("no Patient resources in this drop")
    return read

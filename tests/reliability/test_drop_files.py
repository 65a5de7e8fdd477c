"""Finding 2: ingest must not follow symlinks or read outside the drop folder.

Fails before the fix: a relative link to another practice's patients.csv, an absolute link to a
file outside the drop, a symlinked practice folder and `--practice ../elsewhere/slug` all loaded
with status `ok`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pytest

from tests.pipelines.drops import PATIENTS_HEADER, healthy, write_drop
from tests.reliability.conftest import Runner
from warehouse.paths import raw_db_path

INTRUDER = "P1,Eve,Mallory,(312) 555-0177,,yes,no,no,no,,2026-10-05\n"


def _drop(root: Path) -> Path:
    return write_drop(root / "drop", files={"alpha": healthy(), "beta": healthy()})


def _names(practice: str) -> set[str]:
    with duckdb.connect(str(raw_db_path()), read_only=True) as connection:
        rows = connection.execute(
            "select first_name from raw_patients where practice_slug = ?", [practice]
        ).fetchall()
    return {row[0] for row in rows}


def _ingest(cli: Runner, *args: str) -> dict[str, object]:
    result = cli("ingest", *args, "--json")
    assert result.code in (0, 1), result
    assert "Traceback" not in result.err
    payload: dict[str, object] = json.loads(result.out)
    return payload


def _file(payload: dict[str, object], practice: str, name: str) -> dict[str, object]:
    files = payload["files"]
    assert isinstance(files, list)
    return next(f for f in files if f["practice"] == practice and f["file"] == name)


def test_a_relative_link_to_another_practice_is_refused(loopdesk_home: Path, cli: Runner,
                                                        tmp_path: Path) -> None:
    drop = _drop(tmp_path)
    (drop / "beta" / "patients.csv").write_text(PATIENTS_HEADER + INTRUDER)
    (drop / "alpha" / "patients.csv").unlink()
    os.symlink("../beta/patients.csv", drop / "alpha" / "patients.csv")
    payload = _ingest(cli, str(drop))
    entry = _file(payload, "alpha", "patients.csv")
    assert entry["status"] == "error"
    assert "symbolic link" in str(entry["message"])
    assert "Eve" not in _names("alpha")


def test_an_absolute_link_outside_the_drop_is_refused(loopdesk_home: Path, cli: Runner,
                                                      tmp_path: Path) -> None:
    drop = _drop(tmp_path)
    outside = tmp_path / "elsewhere.csv"
    outside.write_text(PATIENTS_HEADER + INTRUDER)
    (drop / "alpha" / "patients.csv").unlink()
    os.symlink(outside, drop / "alpha" / "patients.csv")
    payload = _ingest(cli, str(drop))
    assert _file(payload, "alpha", "patients.csv")["status"] == "error"
    assert "Eve" not in _names("alpha")


def test_a_symlinked_practice_folder_loads_nothing(loopdesk_home: Path, cli: Runner,
                                                   tmp_path: Path) -> None:
    drop = _drop(tmp_path)
    other = write_drop(tmp_path / "other", practices=None,
                       files={"alpha": {"patients.csv": PATIENTS_HEADER + INTRUDER}})
    for name in ("patients.csv", "treatments.csv", "referrals.csv"):
        (drop / "alpha" / name).unlink()
    (drop / "alpha").rmdir()
    os.symlink(other / "alpha", drop / "alpha")
    payload = _ingest(cli, str(drop))
    assert _file(payload, "alpha", "patients.csv")["status"] == "error"
    assert "Eve" not in _names("alpha")
    assert _names("beta")  # the healthy practice still loads


def test_practice_option_cannot_name_a_path(loopdesk_home: Path, cli: Runner,
                                            tmp_path: Path) -> None:
    drop = _drop(tmp_path)
    write_drop(tmp_path / "elsewhere", practices=None,
               files={"alpha": {"patients.csv": PATIENTS_HEADER + INTRUDER}})
    result = cli("ingest", str(drop), "--practice", "../elsewhere/alpha")
    assert result.code == 2
    assert result.err.startswith("error: ") and result.err.count("\n") == 1
    assert "Traceback" not in result.err


@pytest.mark.parametrize("name", ["Patient.ndjson", "patient.csv"], ids=["fhir", "opendental"])
def test_other_formats_refuse_a_linked_file_too(name: str, loopdesk_home: Path, cli: Runner,
                                                tmp_path: Path) -> None:
    """FHIR and Open Dental folders are read by their own readers: a link refuses the practice."""
    drop = write_drop(tmp_path / "drop", files={"beta": healthy()})
    (drop / "alpha").mkdir()
    outside = tmp_path / name
    outside.write_text("{}\n" if name.endswith(".ndjson") else "PatNum,LName,FName\n1,X,Y\n")
    os.symlink(outside, drop / "alpha" / name)
    payload = _ingest(cli, str(drop))
    practices = payload["practices"]
    assert isinstance(practices, dict)
    assert practices["alpha"]["status"] == "error"
    assert "symbolic link" in str(practices["alpha"]["message"])
    assert practices["beta"]["status"] == "ok"

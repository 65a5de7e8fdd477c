"""SECURITY 15: an ingest killed halfway leaves the previous state; a rerun converges.

The kill is real: a child process runs `ingest` and calls `os._exit` (no cleanup, no
rollback handler, no atexit) after the first file kind has been written inside the run's
transaction.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb

from pipelines.ingest import ingest
from tests.pipelines.drops import PATIENT_OK, PATIENT_TWO, PATIENTS_HEADER, healthy, write_drop
from warehouse.paths import raw_db_path

TABLES = ("raw_practices", "raw_patients", "raw_treatments", "raw_referrals", "quarantine",
          "feed_status", "ingest_runs")
ROOT = Path(__file__).resolve().parents[2]

KILL_AFTER_FIRST_KIND = textwrap.dedent("""
    import os, sys
    import pipelines.ingest as ingest_module
    real = ingest_module._load_kind
    calls = []
    def dying(*args, **kwargs):
        real(*args, **kwargs)
        calls.append(1)
        if len(calls) == 2:  # practices.csv, then patients.csv written: die mid-run
            os._exit(9)
    ingest_module._load_kind = dying
    ingest_module.ingest(__import__("pathlib").Path(sys.argv[1]))
    os._exit(0)
""")


def _state() -> dict[str, list[tuple[object, ...]]]:
    """Every raw-store table's rows, sorted (the run ids and times included)."""
    with duckdb.connect(str(raw_db_path()), read_only=True) as connection:
        return {
            table: sorted(connection.execute(f"select * from {table}").fetchall(), key=repr)
            for table in TABLES
        }


def _second_drop(root: Path) -> Path:
    """The next day's export: Bob's details changed and a new patient, Cy."""
    changed = healthy()
    changed["patients.csv"] = (
        PATIENTS_HEADER + PATIENT_OK + PATIENT_TWO.replace("Ray", "Rayburn")
        + "P3,Cy,Fox,(312) 555-0101,,yes,no,no,no,,2026-11-02\n"
    )
    return write_drop(root, files={"alpha": changed, "beta": healthy()})


def test_a_killed_ingest_leaves_the_previous_state_and_a_rerun_converges(
    loopdesk_home: Path, tmp_path: Path
) -> None:
    ingest(write_drop(tmp_path / "day1", files={"alpha": healthy(), "beta": healthy()}))
    before = _state()
    day2 = _second_drop(tmp_path / "day2")

    killed = subprocess.run(
        [sys.executable, "-c", KILL_AFTER_FIRST_KIND, str(day2)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
        text=True, timeout=120, check=False,
    )
    assert killed.returncode == 9, killed.stderr

    assert _state() == before
    ingest(day2)
    after = _state()
    names = {row[3] for row in after["raw_patients"] if row[0] == "alpha"}
    assert names >= {"Rayburn", "Fox"}, after["raw_patients"]
    # Converged: the same drop again changes no row (only a run record is added).
    ingest(day2)
    again = _state()
    assert {t: rows for t, rows in again.items() if t not in ("ingest_runs", "feed_status")} \
        == {t: rows for t, rows in after.items() if t not in ("ingest_runs", "feed_status")}
    assert len(again["ingest_runs"]) == len(after["ingest_runs"]) + 1

"""A generated, built world for the monthly-report tests, and reading a PDF's own text."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from console.cli import app
from tests.worlds import FIXED_NOW, build_generated_world, point_at_home

REPORT_MONTH = "2026-10"
runner = CliRunner()


@dataclass(frozen=True)
class ReportWorld:
    """Where the built world lives, its export folder and its practices (slug → name)."""

    root: Path
    home: Path
    drop: Path
    practices: dict[str, str]


def report_world(factory: pytest.TempPathFactory, name: str) -> Iterator[ReportWorld]:
    """Generate 3 practices over 14 months, ingest and build them (for a module fixture)."""
    root = factory.mktemp(name)
    home, drop = root / "home", root / "drop"
    with pytest.MonkeyPatch.context() as patch:
        point_at_home(patch, home)
        build_generated_world(drop, practices=3, seed=11, months=14,
                              now=datetime.fromisoformat(FIXED_NOW))
    with (drop / "practices.csv").open(encoding="utf-8") as handle:
        names = {row["practice_slug"]: row["name"] for row in csv.DictReader(handle)}
    yield ReportWorld(root=root, home=home, drop=drop, practices=names)


def pdf_text(pdf: bytes) -> str:
    """Every page's extracted text and the document's metadata, as the PDF itself holds them."""
    reader = PdfReader(io.BytesIO(pdf))
    meta = " ".join(str(value) for value in (reader.metadata or {}).values())
    return "\n".join([*(page.extract_text() for page in reader.pages), meta])


def pdf_pages(pdf: bytes) -> int:
    """How many pages the PDF has."""
    return len(PdfReader(io.BytesIO(pdf)).pages)


def figure_after(text: str, label: str) -> str:
    """The table cell printed right after a headline label (its value for the month)."""
    lines = [line.strip() for line in text.splitlines()]
    index = lines.index(label)
    return lines[index + 1]


def metrics_json(slug: str, month: str = REPORT_MONTH) -> dict[str, object]:
    """`loopdesk metrics --practice SLUG --from FIRST --to LAST --json`'s practice row."""
    import calendar

    year, number = (int(part) for part in month.split("-"))
    last = calendar.monthrange(year, number)[1]
    result = runner.invoke(app, ["metrics", "--practice", slug, "--from", f"{month}-01",
                                 "--to", f"{month}-{last:02d}", "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["practices"]
    return dict(row)


def render_cli(slug: str, out: Path, month: str = REPORT_MONTH) -> bytes:
    """`loopdesk report-pdf` through the CLI; the file's bytes."""
    result = runner.invoke(app, ["report-pdf", "--practice", slug, "--month", month,
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out.read_bytes()


def run_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
             *args: str) -> tuple[int, str, str]:
    """Run the installed command's entry point in-process: exit code, stdout, stderr."""
    import sys

    from console.cli import main

    monkeypatch.setattr(sys, "argv", ["loopdesk", *args])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out, captured.err


def personal_details(drop: Path, slug: str) -> list[str]:
    """Every patient's and referred friend's name, phone and email in the practice's export."""
    found: list[str] = []
    with (drop / slug / "patients.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            found += [f"{row['first_name']} {row['last_name']}", row["phone"], row["email"]]
            found.append(re.sub(r"\D", "", row["phone"]))
    with (drop / slug / "referrals.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            found += [f"{row['lead_first_name']} {row['lead_last_name']}", row["lead_phone"],
                      row["lead_email"], re.sub(r"\D", "", row["lead_phone"])]
    return [value.strip() for value in found if len(value.strip()) >= 7]

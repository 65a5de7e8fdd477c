"""`loopdesk report-pdf`: the PDF's own text against `loopdesk metrics --json`, no patient
details, an empty month, two practices' PDFs, and the user-mistake contract."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlmodel import Session

from console.models.practice import PracticeSettings
from console.platform.db import get_engine, init_db
from tests.console.report_support import (
    REPORT_MONTH,
    ReportWorld,
    figure_after,
    metrics_json,
    pdf_pages,
    pdf_text,
    personal_details,
    render_cli,
    report_world,
    run_main,
)
from tests.worlds import point_at_home

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
LOOPDESK = str(Path(sys.executable).with_name("loopdesk"))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReportWorld]:
    yield from report_world(tmp_path_factory, "report-pdf-world")


@pytest.fixture(autouse=True)
def _home(world: ReportWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    point_at_home(monkeypatch, world.home)


def _set_fee(slug: str, fee: float | None) -> float | None:
    """Set the practice's fee; the previous one."""
    engine = get_engine()
    init_db(engine)
    with Session(engine) as session:
        practice = session.get(PracticeSettings, slug)
        assert practice is not None
        previous = practice.monthly_fee
        practice.monthly_fee = fee
        session.add(practice)
        session.commit()
    return previous


@contextmanager
def _fee(slug: str, fee: float | None) -> Iterator[None]:
    previous = _set_fee(slug, fee)
    try:
        yield
    finally:
        _set_fee(slug, previous)


def _money(value: float) -> str:
    return f"${value:,.0f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def _assert_headlines_match(text: str, metrics: dict) -> None:
    """Each headline figure in the PDF equals the CLI's JSON for the same practice and month."""
    counts = metrics["counts"]
    hours = metrics["hours_delivered"]
    expected = {
        "Referred revenue": _money(metrics["referred_revenue"]),
        "Referred patients booked": f"{counts['leads_converted_90d']:,}",
        "Friends referred": f"{counts['leads']:,}",
        "Referral rate": _pct(metrics["referral_rate"]),
        "Asked for a referral": _pct(metrics["ask_rate"]),
        "Friends contacted within SLA": _pct(metrics["lead_contact_sla_rate"]),
        "Loops closed within SLA": _pct(metrics["loop_closure_rate"]),
        "Hours delivered per week": "—" if hours is None else f"{hours:,.1f} h",
    }
    shown = {label: figure_after(text, label) for label in expected}
    assert shown == expected
    assert f"{counts['referred']} of {counts['cohort_patients']} patients" in " ".join(
        text.split())


def test_headline_figures_equal_metrics_json_and_no_patient_details(
    world: ReportWorld, tmp_path: Path
) -> None:
    slug = sorted(world.practices)[0]
    with _fee(slug, 4000.0):
        pdf = render_cli(slug, tmp_path / "report.pdf")
    assert pdf[:4] == b"%PDF"
    assert 2 <= pdf_pages(pdf) <= 4
    assert (tmp_path / "report.pdf").stat().st_mode & 0o777 == 0o600
    text = pdf_text(pdf)
    metrics = metrics_json(slug)
    assert metrics["counts"]["cohort_patients"] > 0, "the generated month must have patients"
    _assert_headlines_match(text, metrics)
    # The return line: referred revenue against the fee, and cost per referred patient.
    revenue, booked = metrics["referred_revenue"], metrics["counts"]["leads_converted_90d"]
    flat = " ".join(text.split())  # sentences may wrap across lines
    assert f"Referred revenue in October 2026: {_money(revenue)}" in flat
    assert f"return {revenue / 4000.0:,.1f}× on the $4,000 monthly fee" in flat
    cost = "—" if not booked else _money(4000.0 / booked)
    assert f"cost per referred patient {cost}" in flat
    assert world.practices[slug] in text
    for detail in personal_details(world.drop, slug):
        assert detail not in text, "a patient's or friend's personal detail is in the PDF"
    _save_first_page(pdf, "report-pdf-page1.png")


def test_unknown_fee_is_a_dash_never_zero(world: ReportWorld, tmp_path: Path) -> None:
    slug = sorted(world.practices)[1]
    with _fee(slug, None):  # the generated practices.csv carries a fee
        text = " ".join(pdf_text(render_cli(slug, tmp_path / "r.pdf")).split())
    assert "return — (no monthly fee on file)" in text
    assert "cost per referred patient —" in text
    assert "0.0×" not in text


def test_an_empty_month_says_so_on_page_one(world: ReportWorld, tmp_path: Path) -> None:
    slug = sorted(world.practices)[0]
    pdf = render_cli(slug, tmp_path / "empty.pdf", month="2023-01")
    from pypdf import PdfReader

    first_page = PdfReader(tmp_path / "empty.pdf").pages[0].extract_text()
    assert "No data for January 2023" in " ".join(first_page.split())
    metrics = metrics_json(slug, "2023-01")
    assert metrics["cohort_patients"] == 0 and metrics["counts"]["leads"] == 0
    text = pdf_text(pdf)
    _assert_headlines_match(text, metrics)
    assert figure_after(text, "Referral rate") == "—"


def test_two_practices_pdfs_hold_only_their_own_figures(world: ReportWorld,
                                                        tmp_path: Path) -> None:
    first, second = sorted(world.practices)[:2]
    texts = {slug: pdf_text(render_cli(slug, tmp_path / f"{slug}.pdf"))
             for slug in (first, second)}
    for slug, other in ((first, second), (second, first)):
        text = texts[slug]
        _assert_headlines_match(text, metrics_json(slug))
        assert world.practices[slug] in text
        assert world.practices[other] not in text and other not in text
        for detail in personal_details(world.drop, other):
            assert detail not in text
    assert figure_after(texts[first], "Referred revenue") != figure_after(
        texts[second], "Referred revenue"), "the generated practices should differ"


@pytest.mark.parametrize(("args", "fragment"), [
    (["--practice", "nowhere", "--month", REPORT_MONTH], "unknown practice"),
    (["--practice", "x", "--month", "2026-13"], "--month must look like 2026-10"),
    (["--practice", "x", "--month", "October"], "--month must look like 2026-10"),
    (["--practice", "x", "--month", "2026-12"], "--month 2026-12 has not started yet"),
    (["--practice", "x"], "--month"),
])
def test_user_mistakes_are_one_line_errors(world: ReportWorld, args: list[str], fragment: str,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(monkeypatch, capsys, "report-pdf", *args)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and fragment in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_no_snapshot_yet_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    point_at_home(monkeypatch, tmp_path / "empty")
    code, _, err = run_main(monkeypatch, capsys, "report-pdf", "--practice", "x",
                            "--month", REPORT_MONTH)
    assert code == 2
    assert err.startswith("error: no data yet") and err.count("\n") == 1


def test_the_installed_command_writes_the_default_file_name(world: ReportWorld,
                                                            tmp_path: Path) -> None:
    slug = sorted(world.practices)[2]
    env = {**os.environ, "LOOPDESK_HOME": str(world.home)}
    done = subprocess.run([LOOPDESK, "report-pdf", "--practice", slug, "--month", REPORT_MONTH,
                           "--json"], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    written = tmp_path / f"loopdesk-report-{slug}-{REPORT_MONTH}.pdf"
    assert written.read_bytes()[:4] == b"%PDF"
    assert json.loads(done.stdout) == {"practice_slug": slug, "month": REPORT_MONTH,
                                       "path": written.name, "bytes": written.stat().st_size,
                                       "has_data": True}


def _save_first_page(pdf: bytes, name: str) -> None:
    """Rasterise page 1 to test-artifacts/ (poppler's pdftoppm) for a person to look at."""
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pdftoppm (poppler-utils) is missing: `make test` installs it")
        return
    ARTIFACTS.mkdir(exist_ok=True)
    source = ARTIFACTS / "report-pdf.pdf"
    source.write_bytes(pdf)
    stem = ARTIFACTS / name.removesuffix(".png")
    subprocess.run([pdftoppm, "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile",
                    str(source), str(stem)], check=True, timeout=60)
    assert (ARTIFACTS / name).stat().st_size > 10_000

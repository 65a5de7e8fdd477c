"""The monthly client report as a PDF a practice owner reads in two minutes (ReportLab).

Page 1: the return on the fee, the headline figures with the change from last month, the funnel.
Page 2: the referral rate by month (onboarding marked) and SLA compliance per task kind.
Page 3: hours delivered vs. contracted, loops closed, the forecast and data-quality notes.
Charts are the altair specs of `console.reporting.charts`, rendered to PNG by vl-convert (no
browser). Counts, rates and money only: the report never names, phones or emails a patient.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from typing import Any

import altair as alt
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from console.reporting import charts
from warehouse.rules import REFERRAL_WINDOW_DAYS

UNDEFINED = "—"
PAGE_WIDTH, PAGE_HEIGHT = LETTER
MARGIN = 0.7 * inch
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
INK = colors.HexColor("#1f2933")
MUTED = colors.HexColor("#616e7c")
ACCENT = colors.HexColor("#4c78a8")
PANEL = colors.HexColor("#eef3f8")
RULE = colors.HexColor("#cbd2d9")
CHART_SCALE = 2  # PNG pixels per CSS pixel: sharp when printed


# --- formatting: one place, so the PDF, its tests and the e-mail summary agree -------------------

def money(value: float | None) -> str:
    """`$12,400`, or "—"."""
    return UNDEFINED if value is None else f"${value:,.0f}"


def pct(value: float | None) -> str:
    """`34%`, or "—" when the rate is undefined."""
    return UNDEFINED if value is None else f"{100 * value:.0f}%"


def multiple(value: float | None) -> str:
    """`2.5×`, or "—"."""
    return UNDEFINED if value is None else f"{value:,.1f}×"


def hours(value: float | None) -> str:
    """`11.5 h`, or "—"."""
    return UNDEFINED if value is None else f"{value:,.1f} h"


def _signed(delta: float, text: str) -> str:
    if round(delta, 6) == 0:
        return "no change"
    return ("+" if delta > 0 else "−") + text


def change(kind: str, now: float | None, before: float | None) -> str:
    """The change from last month in the figure's own unit ("—" when either is undefined)."""
    if now is None or before is None:
        return UNDEFINED
    delta = now - before
    if kind == "money":
        return _signed(delta, f"${abs(delta):,.0f}")
    if kind == "rate":
        points = round(100 * now) - round(100 * before)
        return _signed(points, f"{abs(points)} pts")
    if kind == "hours":
        return _signed(round(delta, 1), f"{abs(delta):,.1f} h")
    return _signed(delta, f"{abs(delta):,.0f}")


def _count(block: dict[str, Any], name: str) -> float:
    return float(block["counts"][name])


# Headline rows: label, how to read the figure from a metric block, its kind, the counts behind it.
HEADLINES: tuple[tuple[str, Callable[[dict[str, Any]], float | None], str,
                       Callable[[dict[str, Any]], str]], ...] = (
    ("Referred revenue", lambda m: m["referred_revenue"], "money",
     lambda m: f"{int(_count(m, 'leads_converted_90d'))} referred patients booked"),
    ("Referred patients booked", lambda m: _count(m, "leads_converted_90d"), "count",
     lambda m: "booked within 90 days of the referral"),
    ("Friends referred", lambda m: _count(m, "leads"), "count",
     lambda m: f"by {int(_count(m, 'referrers'))} first-time referrers"),
    ("Referral rate", lambda m: m["referral_rate"], "rate",
     lambda m: f"{int(_count(m, 'referred'))} of {int(_count(m, 'cohort_patients'))} patients"),
    ("Asked for a referral", lambda m: m["ask_rate"], "rate",
     lambda m: f"{int(_count(m, 'asked'))} of {int(_count(m, 'cohort_patients'))} patients"),
    ("Friends contacted within SLA", lambda m: m["lead_contact_sla_rate"], "rate",
     lambda m: f"{int(_count(m, 'leads_contacted_within_sla'))} of {int(_count(m, 'leads'))}"),
    ("Loops closed within SLA", lambda m: m["loop_closure_rate"], "rate",
     lambda m: f"{int(_count(m, 'loops_closed_within_sla'))} of "
               f"{int(_count(m, 'leads_with_outcome'))} referrers told"),
    ("Hours delivered per week", lambda m: m["hours_delivered"], "hours",
     lambda m: f"contracted {m['hours_contracted_per_week']:g} h/week"),
)


def headline_value(kind: str, value: float | None) -> str:
    """A headline figure as the report prints it."""
    if kind == "money":
        return money(value)
    if kind == "rate":
        return pct(value)
    if kind == "hours":
        return hours(value)
    return UNDEFINED if value is None else f"{value:,.0f}"


def return_line(report: dict[str, Any]) -> tuple[str, str]:
    """The agency's value in one line (and the trailing-year line under it)."""
    r = report["returns"]
    fee = r["monthly_fee"]
    on_fee = "(no monthly fee on file)" if fee is None else f"on the {money(fee)} monthly fee"
    month_line = (
        f"Referred revenue in {report['month_label']}: {money(r['referred_revenue_month'])} · "
        f"return {multiple(r['return_multiple_month'])} {on_fee} · "
        f"cost per referred patient {money(r['cost_per_referred_patient'])}"
    )
    year_line = (
        f"Trailing 12 months: {money(r['referred_revenue_t12m'])} referred revenue · return "
        f"{multiple(r['return_multiple_t12m'])} on 12 months of fees"
    )
    return month_line, year_line


# --- layout ---------------------------------------------------------------------------------------

def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontName="Helvetica", fontSize=9.5,
                          leading=13, textColor=INK, alignment=TA_LEFT)
    return {
        "title": ParagraphStyle("title", parent=body, fontName="Helvetica-Bold", fontSize=20,
                                leading=24, spaceAfter=2),
        "subtitle": ParagraphStyle("subtitle", parent=body, textColor=MUTED, fontSize=10,
                                   spaceAfter=10),
        "h2": ParagraphStyle("h2", parent=body, fontName="Helvetica-Bold", fontSize=13,
                             leading=16, spaceBefore=10, spaceAfter=4),
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=8, leading=10.5, textColor=MUTED),
        "return": ParagraphStyle("return", parent=body, fontName="Helvetica-Bold", fontSize=11.5,
                                 leading=15),
        "return2": ParagraphStyle("return2", parent=body, fontSize=10, leading=13),
        "cell": ParagraphStyle("cell", parent=body, fontSize=9, leading=11),
        "cellmuted": ParagraphStyle("cellmuted", parent=body, fontSize=8.5, leading=11,
                                    textColor=MUTED),
    }


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def chart_png(chart: alt.TopLevelMixin, *, width: int, height: int) -> bytes:
    """The altair chart rendered to PNG by vl-convert (the console shows the same spec)."""
    import vl_convert

    sized = chart.properties(width=width, height=height).configure_view(stroke=None) \
        .configure_axis(labelFontSize=11, titleFontSize=11) \
        .configure_legend(labelFontSize=11)
    # The specs are built by our own code and checked by the tests; skipping altair's schema
    # validation here saves a tenth of a second per chart.
    return bytes(vl_convert.vegalite_to_png(sized.to_dict(validate=False), scale=CHART_SCALE))


def _chart(chart: alt.TopLevelMixin, *, width: int, height: int) -> Image:
    png = chart_png(chart, width=width, height=height)
    image = Image(io.BytesIO(png))
    ratio = image.imageHeight / image.imageWidth
    target = min(CONTENT_WIDTH, image.imageWidth / CHART_SCALE * 0.75)
    image.drawWidth, image.drawHeight = target, target * ratio
    return image


def _panel(rows: list[Flowable]) -> Table:
    panel = Table([[row] for row in rows], colWidths=[CONTENT_WIDTH])
    panel.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, -1), PANEL),
        ("LINEBEFORE", (0, 0), (0, -1), 3, ACCENT),
        ("LEFTPADDING", (0, 0), (-1, -1), 10),
        ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
    ]))
    return panel


def _grid(data: list[list[Any]], widths: list[float]) -> Table:
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, INK),
        ("LINEBELOW", (0, 1), (-1, -1), 0.3, RULE),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]))
    return table


def _headline_table(report: dict[str, Any], s: dict[str, ParagraphStyle]) -> Table:
    now, before = report["metrics"], report["previous"]
    data: list[list[Any]] = [["", report["month_label"],
                              f"vs {report['previous_month_label']}", "behind the figure"]]
    for label, read, kind, detail in HEADLINES:
        data.append([label, headline_value(kind, read(now)),
                     change(kind, read(now), read(before)),
                     Paragraph(_esc(detail(now)), s["cellmuted"])])
    table = _grid(data, [CONTENT_WIDTH * w for w in (0.32, 0.16, 0.17, 0.35)])
    table.setStyle(TableStyle([("FONTNAME", (1, 1), (1, -1), "Helvetica-Bold"),
                               ("ALIGN", (1, 0), (2, -1), "RIGHT")]))
    return table


def _page_one(report: dict[str, Any], s: dict[str, ParagraphStyle]) -> list[Flowable]:
    as_of = datetime.fromisoformat(report["as_of"])
    story: list[Flowable] = [
        Paragraph(_esc(report["name"]), s["title"]),
        Paragraph(_esc(f"Referral programme report · {report['month_label']} · "
                       f"figures as of {as_of:%B} {as_of.day}, {as_of.year}"), s["subtitle"]),
    ]
    if not report["has_data"]:
        story += [_panel([Paragraph(_esc(
            f"No data for {report['month_label']}: no patient's results became visible, no "
            "friend was referred, no task fell due and no coordinator time was logged in this "
            "month. The trailing-year figures below are shown for reference."), s["return2"])]),
            Spacer(1, 8)]
    elif report["in_progress"]:
        story += [Paragraph(_esc(f"{report['month_label']} is still in progress: figures count "
                                 "what happened up to the date above."), s["small"]),
                  Spacer(1, 4)]
    month_line, year_line = return_line(report)
    story += [_panel([Paragraph(_esc(month_line), s["return"]),
                      Paragraph(_esc(year_line), s["return2"])]),
              Spacer(1, 10),
              Paragraph("The month in numbers", s["h2"]),
              _headline_table(report, s),
              Paragraph("Referred revenue is the booked value of the friends referred this month "
                        "who booked within 90 days; rates are of this month's patients and "
                        "referrals; “—” means there was nothing to measure.", s["small"])]
    funnel = report["funnel"]
    story.append(Paragraph("The referral funnel, last 12 months", s["h2"]))
    if funnel[0]["patients"]:
        story += [Paragraph(f"Surveys find about {charts.WILLING_LINE:.0%} of satisfied patients "
                            f"would refer a friend, but only about {charts.REFERRAL_LINE:.0%} do. "
                            "Share of patients treated in the last 12 months at each step "
                            "(patients above each bar).", s["small"]),
                  _chart(charts.funnel_chart(funnel), width=620, height=190)]
    else:
        story.append(Paragraph("No patients were treated in the last 12 months.", s["body"]))
    return story


def _page_two(report: dict[str, Any], s: dict[str, ParagraphStyle]) -> list[Flowable]:
    story: list[Flowable] = [Paragraph("Referral rate by month", s["h2"])]
    months = report["referral_by_month"]
    if any(row["rate"] is not None for row in months):
        note = ("Months before the programme started are grey." if report["onboarded_month"]
                else "No onboarding date is on file.")
        story += [Paragraph(f"Share of each month's patients (results visible) who referred a "
                            f"friend within {REFERRAL_WINDOW_DAYS} days. {note} Recent months "
                            "are still maturing.", s["small"]),
                  _chart(charts.referral_rate_chart(months, report["onboarded_month"]),
                         width=620, height=180)]
    else:
        story.append(Paragraph("No patients' results became visible in the last 12 months.",
                               s["body"]))
    story.append(Paragraph(f"Service levels in {report['month_label']}", s["h2"]))
    sla = report["sla"]
    data: list[list[Any]] = [["task", "done within SLA", "met / due", "open and late"]]
    for row in sla:
        data.append([row["kind"], pct(row["compliance"]), f"{row['met']} / {row['due']}",
                     str(row["open_breached"])])
    table = _grid(data, [CONTENT_WIDTH * w for w in (0.43, 0.19, 0.19, 0.19)])
    table.setStyle(TableStyle([("ALIGN", (1, 0), (-1, -1), "RIGHT")]))
    story.append(table)
    if any(row["compliance"] is not None for row in sla):
        story.append(Spacer(1, 6))
        story.append(_chart(charts.sla_chart(sla), width=560, height=120))
    story.append(Paragraph("Tasks whose deadline fell in the month; a task still open before its "
                           "deadline is not counted yet.", s["small"]))
    return story


def _forecast_block(report: dict[str, Any], s: dict[str, ParagraphStyle]) -> list[Flowable]:
    forecast = report["forecast"]
    a = forecast["assumptions"]
    story: list[Flowable] = [Paragraph("What compounding means for the next two years", s["h2"])]
    if forecast["measured"] is None:
        story.append(Paragraph("Not enough measured data for a forecast yet: no referral rate or "
                               "lead conversion could be measured over the last 12 months.",
                               s["body"]))
        return story
    measured, systematic = forecast["measured"], forecast["systematic"]
    data: list[list[Any]] = [["referred patients", "year 1", "year 2", "total"]]
    for label, f in (("at your measured rate", measured), ("at a systematic 40%", systematic)):
        data.append([label, *(f"{v:,.1f}" for v in f["by_year"]), f"{f['total']:,.1f}"])
    table = _grid(data, [CONTENT_WIDTH * w for w in (0.4, 0.2, 0.2, 0.2)])
    table.setStyle(TableStyle([("ALIGN", (1, 0), (-1, -1), "RIGHT")]))
    story += [table, Paragraph(_esc(
        f"Assumptions: {a['patients_per_year']:,.0f} patients a year (those whose results became "
        f"visible in the last 12 months), measured referral rate {pct(a['referral_rate'])}, "
        f"lead conversion {pct(a['conversion'])}; referred patients refer again at the same rate "
        "(compounding): year 1 = patients × rate × conversion, each later year adds the previous "
        "year's referred patients × rate × conversion."), s["small"])]
    return story


def _page_three(report: dict[str, Any], s: dict[str, ParagraphStyle]) -> list[Flowable]:
    m = report["metrics"]
    story: list[Flowable] = [Paragraph("Hours delivered vs. contracted, by week", s["h2"])]
    story += [Paragraph(_esc(
        f"Coordinator time logged for you in {report['month_label']}: "
        f"{hours(m['counts']['hours_total'])} "
        f"({hours(m['hours_delivered'])} a week against {m['hours_contracted_per_week']:g} h "
        "contracted)."), s["body"]),
        _chart(charts.hours_chart(report["hours_by_week"]), width=560, height=150)]
    counts = m["counts"]
    loops = (
        f"Of the {counts['leads_with_outcome']} friends referred this month whose outcome is "
        f"known, {counts['loops_closed_within_sla']} referrers were thanked and told the outcome "
        f"within the SLA ({pct(m['loop_closure_rate'])})."
    )
    told, untold = m["repeat_referral_rate_loop_closed"], m["repeat_referral_rate_loop_not_closed"]
    if told is not None and untold is not None:
        loops += (f" Of this month's first-time referrers, {pct(told)} of those thanked referred "
                  f"again, against {pct(untold)} of the others.")
    story += [Paragraph("Loops closed", s["h2"]), Paragraph(_esc(loops), s["body"])]
    story += _forecast_block(report, s)
    story.append(Paragraph("Data quality", s["h2"]))
    notes = report["data_quality"] or ["Every feed is current and no rows were set aside."]
    story += [Paragraph(_esc(note), s["body"]) for note in notes]
    return story


def _footer(name: str, month_label: str) -> Callable[[Canvas, Any], None]:
    def draw(canvas: Canvas, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(MUTED)
        canvas.drawString(MARGIN, 0.45 * inch,
                          f"{name} · {month_label} · prepared by your referral-programme team")
        canvas.drawRightString(PAGE_WIDTH - MARGIN, 0.45 * inch, f"page {doc.page}")
        canvas.restoreState()
    return draw


def render_pdf(report: dict[str, Any]) -> bytes:
    """The report of `console.reporting.monthly.monthly_report` as PDF bytes (three pages)."""
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=LETTER, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
        bottomMargin=0.8 * inch, title=f"{report['name']} — referral report {report['month']}",
        author="Loopdesk", subject="Monthly referral-programme report", creator="Loopdesk",
    )
    s = _styles()
    third = _page_three(report, s)
    story = [*_page_one(report, s), PageBreak(), *_page_two(report, s), PageBreak(),
             KeepTogether(third[:3]), *third[3:]]
    footer = _footer(report["name"], report["month_label"])
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()

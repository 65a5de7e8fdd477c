"""Altair chart specifications shared by the console pages and the monthly PDF.

Every builder takes plain rows (lists of dicts) and returns an altair chart; the pages hand it to
`st.altair_chart`, the PDF renders the very same spec to PNG with vl-convert. Colours and the
83 % / 29 % reference lines (warehouse/rules.py's benchmarks) are drawn here.
"""

from __future__ import annotations

from typing import Any

import altair as alt

from warehouse.rules import REFERRAL_RATE_TYPICAL, WILLINGNESS_BENCHMARK

# The benchmark lines (pages read them from here: pages import console, not the warehouse).
WILLING_LINE, REFERRAL_LINE = WILLINGNESS_BENCHMARK, REFERRAL_RATE_TYPICAL
REFERENCE_COLOUR = "firebrick"
BAR_COLOUR = "#4c78a8"
MUTED_COLOUR = "#bab0ac"


def _reference_lines(values: list[dict[str, Any]]) -> list[alt.Chart]:
    lines = alt.Chart(alt.Data(values=values))
    rules = lines.mark_rule(strokeDash=[6, 4], color=REFERENCE_COLOUR).encode(y="y:Q")
    # Labelled at the right edge, clear of the first (always tallest) bar.
    labels = lines.mark_text(align="right", dx=-2, dy=-6, color=REFERENCE_COLOUR).encode(
        y="y:Q", text="label:N", x=alt.value({"expr": "width"}))
    return [rules, labels]


def funnel_chart(rows: list[dict[str, Any]]) -> alt.LayerChart:
    """Share of treated patients at each funnel stage, against the 83 % and 29 % lines.

    `rows`: {"stage", "patients", "share", "order"} per stage (see `views.report.funnel_totals`).
    """
    bars = alt.Chart(alt.Data(values=rows)).mark_bar(color=BAR_COLOUR).encode(
        x=alt.X("stage:N", sort=alt.SortField("order"), title=None,
                axis=alt.Axis(labelAngle=0)),
        y=alt.Y("share:Q", axis=alt.Axis(format="%"), title="share of treated patients",
                scale=alt.Scale(domain=[0, 1])),
        tooltip=["stage:N", "patients:Q", alt.Tooltip("share:Q", format=".0%")],
    )
    counts = alt.Chart(alt.Data(values=rows)).mark_text(dy=-6, color="#333").encode(
        x=alt.X("stage:N", sort=alt.SortField("order")), y="share:Q", text="patients:Q")
    return alt.LayerChart(layer=[bars, counts, *_reference_lines([
        {"y": WILLING_LINE, "label": f"{WILLING_LINE:.0%} would refer"},
        {"y": REFERRAL_LINE, "label": f"{REFERRAL_LINE:.0%} typically do"},
    ])])


def referral_rate_chart(rows: list[dict[str, Any]],
                        onboarded_month: str | None) -> alt.LayerChart:
    """Referral rate by month (`rows`: {"month": "YYYY-MM", "rate", "phase"}), onboarding marked.

    `phase` is "before onboarding" or "with the programme"; months without patients have no rate
    and show as gaps, not as 0.
    """
    base = alt.Chart(alt.Data(values=rows))
    bars = base.mark_bar().encode(
        x=alt.X("month:O", title=None, axis=alt.Axis(labelAngle=-45)),
        y=alt.Y("rate:Q", axis=alt.Axis(format="%"), title="referral rate"),
        color=alt.Color("phase:N", title=None, legend=alt.Legend(orient="top"),
                        scale=alt.Scale(domain=["before onboarding", "with the programme"],
                                        range=[MUTED_COLOUR, BAR_COLOUR])),
        tooltip=["month:O", alt.Tooltip("rate:Q", format=".0%"), "phase:N"],
    )
    typical = {"y": REFERRAL_LINE, "label": f"{REFERRAL_LINE:.0%} typical"}
    layers: list[Any] = [bars, *_reference_lines([typical])]
    if onboarded_month is not None:
        marker = alt.Chart(alt.Data(values=[{"month": onboarded_month,
                                             "label": "onboarded"}]))
        layers.append(marker.mark_rule(color="#333", strokeWidth=2).encode(x="month:O"))
        layers.append(marker.mark_text(align="left", dx=4, y=4, color="#333").encode(
            x="month:O", text="label:N"))
    return alt.LayerChart(layer=layers)


def sla_chart(rows: list[dict[str, Any]]) -> alt.Chart:
    """SLA compliance per task kind (`rows`: {"kind", "compliance", "due"}); undefined omitted."""
    defined = [row for row in rows if row.get("compliance") is not None]
    return alt.Chart(alt.Data(values=defined)).mark_bar(color=BAR_COLOUR).encode(
        y=alt.Y("kind:N", title=None, sort=None),
        x=alt.X("compliance:Q", axis=alt.Axis(format="%"), title="done within SLA",
                scale=alt.Scale(domain=[0, 1])),
        tooltip=["kind:N", alt.Tooltip("compliance:Q", format=".0%"), "due:Q"],
    )


def hours_chart(rows: list[dict[str, Any]]) -> alt.Chart:
    """Hours delivered vs. contracted by week (`rows`: {"week", "measure", "hours"})."""
    return alt.Chart(alt.Data(values=rows)).mark_bar().encode(
        x=alt.X("week:O", title="week starting", sort=None, axis=alt.Axis(labelAngle=0)),
        xOffset="measure:N",
        y=alt.Y("hours:Q", title="hours"),
        color=alt.Color("measure:N", title=None, legend=alt.Legend(orient="top"),
                        scale=alt.Scale(domain=["delivered", "contracted"],
                                        range=[BAR_COLOUR, MUTED_COLOUR])),
        tooltip=["week:O", "measure:N", alt.Tooltip("hours:Q", format=".1f")],
    )

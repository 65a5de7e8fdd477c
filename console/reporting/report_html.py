"""The read-only HTML rendering of a report link, for people opening it in a browser.

The same payload as the JSON at `/api/v1/report`, laid out as headings and tables: every
value is escaped (names and blurbs are data, never markup), rates read as percentages and
money as dollars, and no script, style sheet or image is loaded (the page's CSP forbids it).
"""

from __future__ import annotations

from html import escape
from typing import Any

from console.platform.wording import humanise

CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "color:#222}table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid "
    "#ddd;padding:.3rem .6rem;text-align:left}th{background:#f5f5f5}h1{margin-bottom:0}"
    ".note{color:#666}"
)
MAX_DEPTH = 4


def _label(key: str) -> str:
    return escape(humanise(key).capitalize())


def _value(key: str, value: Any) -> str:
    """One cell: rates as %, money as $, nothing as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        name = key.lower()
        if "rate" in name or "share" in name or name.startswith("p_"):
            return f"{100 * float(value):.0f}%" if abs(float(value)) <= 1.5 else f"{value:g}"
        if "revenue" in name or "value" in name:
            return f"${float(value):,.0f}"
        return f"{value:,.1f}" if isinstance(value, float) and not value.is_integer() \
            else f"{value:,.0f}"
    return escape(str(value))


def _table_of_rows(rows: list[dict[str, Any]]) -> str:
    keys = [k for k in rows[0] if not isinstance(rows[0][k], dict | list)]
    if not keys:
        return ""
    head = "".join(f"<th>{_label(k)}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{_value(k, row.get(k))}</td>" for k in keys) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _section(data: dict[str, Any], depth: int) -> str:
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict | list)}
    parts = []
    if scalars:
        parts.append("<table>" + "".join(
            f"<tr><th>{_label(k)}</th><td>{_value(k, v)}</td></tr>" for k, v in scalars.items()
        ) + "</table>")
    for key, value in data.items():
        if depth >= MAX_DEPTH:
            break
        level = min(6, depth + 2)
        if isinstance(value, dict) and value:
            parts.append(f"<h{level}>{_label(key)}</h{level}>{_section(value, depth + 1)}")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            parts.append(f"<h{level}>{_label(key)}</h{level}>{_table_of_rows(value)}")
        elif isinstance(value, list) and value:
            items = ", ".join(_value(key, v) for v in value)
            parts.append(f"<p><strong>{_label(key)}:</strong> {items}</p>")
    return "".join(parts)


def render_report_html(report: dict[str, Any], *, practice_name: str) -> str:
    """The report as a standalone, script-free HTML page."""
    body = {k: v for k, v in report.items() if k not in ("practice_slug", "report_version")}
    generated = escape(str(report.get("generated_at", "")))
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{escape(practice_name)} — referral report</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>{escape(practice_name)}</h1>"
        f"<p class=\"note\">Referral programme report · generated {generated} · read-only. "
        "The same data is available as JSON to programs (Accept: application/json).</p>"
        f"{_section(body, 0)}</body></html>"
    )

"""The figures of one practice-month's client report, from the published snapshot.

Every headline figure is `compute_metrics` for the month's whole UTC days — exactly what
`loopdesk metrics --practice SLUG --from FIRST --to LAST --json` prints — so the PDF, the
console and the CLI never disagree. Counts, rates and money only: nothing here names a patient.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from console.models.work import TaskKind
from console.platform.errors import UserError
from warehouse.scope import Scope

MONTH_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")
TRAILING_MONTHS = 12
FORECAST_YEARS = 2
# The funnel of the PDF: the stages a practice owner recognises (the console shows all nine).
REPORT_FUNNEL = (
    ("treated", "treated"),
    ("asked", "asked"),
    ("reached", "reached"),
    ("willing", "willing"),
    ("referred", "referred"),
    ("lead_booked", "booked"),
)
KIND_LABELS: dict[str, str] = {
    TaskKind.ask: "Ask for a referral",
    TaskKind.follow_up: "Follow up",
    TaskKind.contact_lead: "Contact the referred friend",
    TaskKind.close_loop: "Close the loop with the referrer",
    TaskKind.review_request: "Review request",
}


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month; its report covers its whole UTC days."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """`YYYY-MM`, or a UserError saying what is wrong."""
        match = MONTH_PATTERN.match(text.strip())
        if match is None or not 1 <= int(match.group(2)) <= 12:
            raise UserError(f"--month must look like 2026-10, got {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def parse_past(cls, text: str, now: datetime) -> Month:
        """`parse`, refusing a month that has not started yet at `now`."""
        month = cls.parse(text)
        if month.start > now:
            raise UserError(f"--month {month.key} has not started yet")
        return month

    @classmethod
    def of(cls, day: date) -> Month:
        """The month a day falls in."""
        return cls(day.year, day.month)

    @classmethod
    def previous_in_zone(cls, now: datetime, timezone: str) -> Month:
        """The previous calendar month in a practice's time zone (the default report month)."""
        try:
            zone = ZoneInfo(timezone)
        except (KeyError, ValueError):  # an unknown zone falls back to UTC
            zone = ZoneInfo("UTC")
        return cls.of(now.astimezone(zone).date()).shift(-1)

    def shift(self, months: int) -> Month:
        """This month moved by `months` (negative: earlier)."""
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    @property
    def first(self) -> date:
        """Its first day."""
        return date(self.year, self.month, 1)

    @property
    def last(self) -> date:
        """Its last day."""
        return self.shift(1).first - timedelta(days=1)

    @property
    def start(self) -> datetime:
        """00:00 UTC of its first day."""
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """00:00 UTC of the next month's first day."""
        return self.shift(1).start

    @property
    def key(self) -> str:
        """`YYYY-MM`."""
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        """`October 2026`."""
        return self.first.strftime("%B %Y")

    @property
    def short(self) -> str:
        """`Oct`."""
        return self.first.strftime("%b")


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def returns(*, monthly_fee: float | None, month: dict[str, Any],
            trailing: dict[str, Any]) -> dict[str, Any]:
    """Referred revenue against the agency's fee (docs/metrics.md → Return on the fee).

    Undefined (None) whenever the fee is unknown; never 0 for an unknown.
    """
    revenue = float(month["referred_revenue"])
    revenue_12m = float(trailing["referred_revenue"])
    patients = int(month["counts"]["leads_converted_90d"])
    fee = monthly_fee if monthly_fee is not None and monthly_fee >= 0 else None
    return {
        "monthly_fee": fee,
        "referred_revenue_month": revenue,
        "referred_revenue_t12m": revenue_12m,
        "referred_patients_month": patients,
        "return_multiple_month": _ratio(revenue, fee),
        "return_multiple_t12m": _ratio(revenue_12m, None if fee is None else fee * 12),
        "cost_per_referred_patient": None if fee is None else _ratio(fee, patients),
    }


def _practice_metrics(conn: duckdb.DuckDBPyConnection, *, scope: Scope, practice_slug: str,
                      first: date, last: date) -> dict[str, Any]:
    from warehouse.metrics import compute_metrics

    result = compute_metrics(conn, scope=scope, practice_slug=practice_slug,
                             date_from=first, date_to=last)
    (row,) = result["practices"]
    return {"as_of": result["as_of"], "period": result["period"], "row": row}


def _has_data(row: dict[str, Any]) -> bool:
    counts = row["counts"]
    due = sum(counts[f"sla_due__{kind}"] for kind in KIND_LABELS)
    return bool(counts["cohort_patients"] or counts["leads"] or counts["minutes_logged"] or due)


def _funnel(conn: duckdb.DuckDBPyConnection, *, scope: Scope, practice_slug: str,
            first: Month, last: Month) -> list[dict[str, Any]]:
    """The six report stages summed over the months treated in [first, last]."""
    from warehouse.metrics_ops import funnel_by_month

    rows = [row for row in funnel_by_month(conn, scope=scope, practice_slug=practice_slug)
            if first.first <= _as_date(row["month"]) <= last.first]
    totals = {column: sum(int(row[column] or 0) for row in rows) for column, _ in REPORT_FUNNEL}
    treated = totals["treated"]
    return [{"stage": label, "patients": totals[column],
             "share": totals[column] / treated if treated else None, "order": i}
            for i, (column, label) in enumerate(REPORT_FUNNEL)]


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _referral_by_month(conn: duckdb.DuckDBPyConnection, *, scope: Scope, practice_slug: str,
                       month: Month) -> list[dict[str, Any]]:
    """Referral rate of each of the 12 months ending with `month` (None: no patients)."""
    from warehouse.metrics import metrics_for_window, snapshot_as_of, visible_practices

    as_of = snapshot_as_of(conn)
    (practice,) = visible_practices(conn, scope=scope, practice_slug=practice_slug)
    onboarded = practice.onboarded_at
    rows = []
    for back in range(TRAILING_MONTHS - 1, -1, -1):
        current = month.shift(-back)
        window = metrics_for_window(conn, practices=[practice], start=current.start,
                                    end=current.end, as_of=as_of)
        (row,) = window["practices"]
        before = onboarded is not None and current.end <= onboarded
        rows.append({"month": current.key, "rate": row["referral_rate"],
                     "patients": row["cohort_patients"], "referred": row["counts"]["referred"],
                     "phase": "before onboarding" if before else "with the programme"})
    return rows


def _hours_by_week(conn: duckdb.DuckDBPyConnection, *, practice_slug: str, month: Month,
                   contracted: float) -> list[dict[str, Any]]:
    """Hours delivered vs. contracted for every ISO week (Monday, UTC) that overlaps the month."""
    monday = month.first - timedelta(days=month.first.weekday())
    weeks = []
    while monday <= month.last:
        weeks.append(monday)
        monday += timedelta(days=7)
    delivered = {
        _as_date(week): float(hours)
        for week, hours in conn.execute(
            "select week_start, hours_delivered from mart_capacity_weekly "
            "where practice_slug = $slug and week_start >= $first and week_start <= $last",
            {"slug": practice_slug, "first": weeks[0], "last": weeks[-1]},
        ).fetchall()
    }
    rows = []
    for week in weeks:
        label = week.strftime("%b %d").replace(" 0", " ")
        rows.append({"week": label, "measure": "delivered", "hours": delivered.get(week, 0.0)})
        rows.append({"week": label, "measure": "contracted", "hours": contracted})
    return rows


def _sla_rows(row: dict[str, Any]) -> list[dict[str, Any]]:
    counts = row["counts"]
    return [{"kind": KIND_LABELS[kind], "compliance": value,
             "due": int(counts[f"sla_due__{kind}"]), "met": int(counts[f"sla_met__{kind}"]),
             "open_breached": int(row["open_breached"][kind])}
            for kind, value in row["sla_compliance"].items()]


def _forecast(trailing: dict[str, Any]) -> dict[str, Any]:
    """The compounding forecast at the trailing-12-month measured rates, and at 40 %."""
    from warehouse.forecast import SYSTEMATIC_REFERRAL_RATE, forecast

    patients = float(trailing["cohort_patients"])
    r, c = trailing["referral_rate"], trailing["lead_conversion_rate"]
    assumptions = {"patients_per_year": patients, "referral_rate": r, "conversion": c,
                   "systematic_referral_rate": SYSTEMATIC_REFERRAL_RATE,
                   "years": FORECAST_YEARS}
    if r is None or c is None:
        return {"assumptions": assumptions, "measured": None, "systematic": None}
    at_measured = forecast(patients_per_year=patients, referral_rate=r, conversion=c,
                           years=FORECAST_YEARS)
    at_systematic = forecast(patients_per_year=patients, referral_rate=SYSTEMATIC_REFERRAL_RATE,
                             conversion=c, years=FORECAST_YEARS)
    return {"assumptions": assumptions, "measured": at_measured.as_dict(),
            "systematic": at_systematic.as_dict()}


def _quality_notes(conn: duckdb.DuckDBPyConnection, *, scope: Scope,
                   practice_slug: str) -> list[str]:
    """Data-quality notes in plain words: rows set aside and feeds paused (no row content)."""
    from warehouse.quality import data_quality

    notes = []
    for row in data_quality(conn, scope=scope, practice_slug=practice_slug):
        quarantined = int(row["quarantined_rows"] or 0)
        if quarantined:
            rows = "row" if quarantined == 1 else "rows"
            notes.append(f"{quarantined:,} {rows} of {row['file']} from the latest import "
                         "failed validation and were set aside; they are not in these figures.")
        status = row["feed_status"]
        if status == "paused":
            notes.append(f"The {row['file']} feed is paused because its columns changed; "
                         "figures from it stop at the last good import.")
        elif status not in (None, "ok"):
            notes.append(f"The {row['file']} feed could not be read at the last import; "
                         "figures from it stop at the last good import.")
    return notes


def monthly_report(conn: duckdb.DuckDBPyConnection, *, scope: Scope, practice_slug: str,
                   month: Month, monthly_fee: float | None) -> dict[str, Any]:
    """Every figure of one practice-month's report (raises UnknownPractice outside `scope`)."""
    current = _practice_metrics(conn, scope=scope, practice_slug=practice_slug,
                                first=month.first, last=month.last)
    previous = _practice_metrics(conn, scope=scope, practice_slug=practice_slug,
                                 first=month.shift(-1).first, last=month.shift(-1).last)
    first_trailing = month.shift(-(TRAILING_MONTHS - 1))
    trailing = _practice_metrics(conn, scope=scope, practice_slug=practice_slug,
                                 first=first_trailing.first, last=month.last)
    row = current["row"]
    as_of = datetime.fromisoformat(current["as_of"])
    from warehouse.metrics import visible_practices

    (practice,) = visible_practices(conn, scope=scope, practice_slug=practice_slug)
    onboarded = practice.onboarded_at
    return {
        "practice_slug": practice_slug,
        "name": row["name"],
        "month": month.key,
        "month_label": month.label,
        "previous_month_label": month.shift(-1).label,
        "as_of": current["as_of"],
        "period": current["period"],
        "trailing_period": trailing["period"],
        "in_progress": month.end > as_of,
        "has_data": _has_data(row),
        "metrics": row,
        "previous": previous["row"],
        "trailing": trailing["row"],
        "returns": returns(monthly_fee=monthly_fee, month=row, trailing=trailing["row"]),
        "funnel": _funnel(conn, scope=scope, practice_slug=practice_slug,
                          first=first_trailing, last=month),
        "referral_by_month": _referral_by_month(conn, scope=scope, practice_slug=practice_slug,
                                                month=month),
        "onboarded_month": Month.of(onboarded.date()).key if onboarded is not None else None,
        "onboarded_at": onboarded.isoformat() if onboarded is not None else None,
        "sla": _sla_rows(row),
        "hours_by_week": _hours_by_week(conn, practice_slug=practice_slug, month=month,
                                        contracted=float(row["hours_contracted_per_week"])),
        "forecast": _forecast(trailing["row"]),
        "data_quality": _quality_notes(conn, scope=scope, practice_slug=practice_slug),
    }

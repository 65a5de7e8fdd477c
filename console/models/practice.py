"""Operational-store tables: each client practice's settings (hours, SLA policy, contact caps)."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from loopdesk_core.business_hours import (
    DEFAULT_BUSINESS_DAYS,
    DEFAULT_CLOSE_LOOP_SLA_BUSINESS_DAYS,
    DEFAULT_LEAD_SLA_BUSINESS_DAYS,
)


class PracticeSettings(SQLModel, table=True):
    """One row per client practice: what managers configure, seeded from the export."""

    __tablename__ = "practice_settings"

    practice_slug: str = Field(primary_key=True, max_length=64)
    name: str
    specialty: str
    timezone: str = Field(description="IANA time zone")
    contracted_hours_per_week: float = 10.0
    business_days: str = Field(
        default=DEFAULT_BUSINESS_DAYS, description="ISO weekdays open, 1=Mon"
    )
    business_hours_start: str = "09:00"
    business_hours_end: str = "17:00"
    ask_sla_days: int = 7
    follow_up_sla_business_days: int = 2
    lead_sla_business_days: int = DEFAULT_LEAD_SLA_BUSINESS_DAYS
    close_loop_sla_business_days: int = DEFAULT_CLOSE_LOOP_SLA_BUSINESS_DAYS
    max_touches_per_day: int = 1
    max_touches_per_week: int = 3
    onboarded_at: datetime | None = None
    share_blurb: str = ""
    active: bool = True
    # The agency's monthly fee in USD (None: unknown, so return figures are undefined).
    monthly_fee: float | None = None
    # Extra monthly-report recipients a manager sets, comma-separated (client owners get it too).
    report_recipients: str | None = None
    # Measured rates copied from mart_practice_rates on refresh (priority inputs).
    avg_case_value: float | None = None
    lead_conversion: float | None = None
    p_refer_given_asked: float | None = None

"""Why tasks exist: candidate frames per task kind, from snapshot marts and operational facts.

Each function is pure over polars frames and returns one row per task that *should* be open
now, with the columns `TASK_COLUMNS` (SLA deadlines in business days are added by the caller,
which knows the practices' hours).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from console.models.work import Disposition, TaskKind
from console.work.rows import TASK_COLUMNS as TASK_COLUMNS  # defined there (no polars)
from warehouse import rules

# Dispositions that mean the person was asked (reached and the question put).
ASKED_DISPOSITIONS = (Disposition.willing_no_name, Disposition.referred, Disposition.declined)
WILLING_DISPOSITIONS = (Disposition.willing_no_name, Disposition.referred)
LEAD_OUTCOMES = ("booked", "treated", "declined", "unreachable")
# The cool-downs the candidate marts apply too (one copy: warehouse/rules.py).
ASK_COOLDOWN = timedelta(days=rules.ASK_COOLDOWN_DAYS)
DECLINE_COOLDOWN = timedelta(days=rules.DECLINE_COOLDOWN_DAYS)
REVIEW_COOLDOWN = timedelta(days=rules.REVIEW_COOLDOWN_DAYS)
ASK_SLA = timedelta(days=7)
REVIEW_SLA = timedelta(days=14)



@dataclass(frozen=True)
class HistoryWindows:
    """How old a lead-driven trigger may be for refresh to still open a task for it.

    Exports carry years of history; a lead referred months ago, or an outcome the referrer
    was never told about last year, is no longer work the agency can act on. The windows only
    limit *opening*: a task already open stays open (and shows as breached) until handled.
    """

    lead_days: int = 30  # contact_lead: days since the lead was referred
    close_loop_days: int = 30  # close_loop: days since the lead's outcome


HISTORY_WINDOWS = HistoryWindows()



@dataclass(frozen=True)
class OpsFacts:
    """Operational-store facts refresh needs, as frames.

    touches: practice_slug, subject_type, subject_id, disposition, started_at, treatment_id
    revoked: practice_slug, subject_type, subject_id, channel (latest event is a revocation)
    leads: the console's captured leads (mart_leads columns)
    lead_events: practice_slug, lead_id, event, at, event_id (the write order)
    reviews: practice_slug, patient_id, treatment_id, created_at (review_request tasks)
    willing: practice_slug, patient_id, treatment_id, results_visible_at (from willing asks)
    """

    touches: pl.DataFrame
    revoked: pl.DataFrame
    leads: pl.DataFrame
    lead_events: pl.DataFrame
    reviews: pl.DataFrame
    willing: pl.DataFrame


# Columns a candidate may leave out: they are then null, of these types.
_NULLABLE = {"patient_id": pl.String, "lead_id": pl.String, "treatment_id": pl.String,
             "referrer_patient_id": pl.String, "category": pl.String,
             "satisfaction_score": pl.Float64}


def as_tasks(frame: pl.DataFrame, *, kind: TaskKind, subject_type: str,
             **columns: str | pl.Expr) -> pl.DataFrame:
    """The one task projection: `frame` as rows of TASK_COLUMNS, in order.

    Each column is given by name (a column of `frame`) or as an expression; `kind` and
    `subject_type` are literals; a column of `_NULLABLE` not given is null of its type.
    """
    unknown = set(columns) - set(TASK_COLUMNS)
    if unknown:
        raise ValueError(f"not task columns: {sorted(unknown)}")
    given: dict[str, str | pl.Expr] = {"kind": pl.lit(str(kind)),
                                       "subject_type": pl.lit(subject_type), **columns}

    def column(name: str) -> pl.Expr:
        value = given.get(name)
        if value is None:
            return pl.lit(None, dtype=_NULLABLE[name]).alias(name)
        return (pl.col(value) if isinstance(value, str) else value).alias(name)

    return frame.select(*(column(name) for name in TASK_COLUMNS))


def _revoked_channel(revoked: pl.DataFrame, channel: str, subject_type: str) -> pl.DataFrame:
    return (
        revoked.filter((pl.col("channel") == channel) & (pl.col("subject_type") == subject_type))
        .select("practice_slug", pl.col("subject_id").alias("_sid"))
        .unique()
        .with_columns(pl.lit(True).alias(f"revoked_{channel}"))
    )


def effective_patients(patients: pl.DataFrame, revoked: pl.DataFrame) -> pl.DataFrame:
    """mart_patients with console revocations applied and a `contactable` flag."""
    frame = patients.select(
        "practice_slug", "patient_id", "consent_call", "consent_text", "consent_email",
        "do_not_contact", "satisfaction_score",
    )  # fmt: skip
    for channel in ("call", "text", "email"):
        frame = (
            frame.join(
                _revoked_channel(revoked, channel, "patient"),
                left_on=["practice_slug", "patient_id"],
                right_on=["practice_slug", "_sid"],
                how="left",
            )
            .with_columns(
                (pl.col(f"consent_{channel}").fill_null(False)
                 & pl.col(f"revoked_{channel}").is_null()).alias(f"consent_{channel}")
            )
            .drop(f"revoked_{channel}")
        )
    return frame.with_columns(
        pl.col("do_not_contact").fill_null(False),
        contactable=(
            ~pl.col("do_not_contact").fill_null(False)
            & (pl.col("consent_call") | pl.col("consent_text") | pl.col("consent_email"))
        ),
    )


def _recent_patients(touches: pl.DataFrame, dispositions: tuple[str, ...],
                     since: datetime) -> pl.DataFrame:
    return (
        touches.filter(
            (pl.col("subject_type") == "patient")
            & pl.col("disposition").is_in(dispositions)
            & (pl.col("started_at") >= since)
        )
        .select("practice_slug", pl.col("subject_id").alias("patient_id"))
        .unique()
    )


def ask_candidates(
    *, candidates: pl.DataFrame, patients: pl.DataFrame, facts: OpsFacts, now: datetime
) -> pl.DataFrame:
    """One ask per visible, contactable treatment whose patient was not asked/declined lately."""
    asked = _recent_patients(facts.touches, ASKED_DISPOSITIONS, now - ASK_COOLDOWN)
    declined = _recent_patients(facts.touches, (Disposition.declined,), now - DECLINE_COOLDOWN)
    people = patients.select(
        "practice_slug", "patient_id", "consent_call", "do_not_contact", "contactable"
    )
    return (
        candidates.select("practice_slug", "patient_id", "treatment_id", "category",
                          "treatment_value", "results_visible_at", "satisfaction_score")
        .filter(pl.col("results_visible_at") <= now)
        .join(people, on=["practice_slug", "patient_id"], how="inner")
        .filter(pl.col("contactable"))
        .join(asked, on=["practice_slug", "patient_id"], how="anti")
        .join(declined, on=["practice_slug", "patient_id"], how="anti")
        .pipe(
            as_tasks, kind=TaskKind.ask, subject_type="patient",
            natural_key=pl.format("ask:{}:{}", "practice_slug", "treatment_id"),
            practice_slug="practice_slug", subject_id="patient_id", patient_id="patient_id",
            treatment_id="treatment_id", category="category",
            case_value=pl.col("treatment_value").cast(pl.Float64),
            satisfaction_score=pl.col("satisfaction_score").cast(pl.Float64),
            consent_call="consent_call", do_not_contact="do_not_contact",
            due_at="results_visible_at",
            sla_deadline=pl.col("results_visible_at") + ASK_SLA,
            decay_from="results_visible_at",
        )
    )


def effective_leads(*, mart_leads: pl.DataFrame, facts: OpsFacts) -> pl.DataFrame:
    """Every lead (export and console) with console status changes applied.

    Columns: practice_slug, lead_id, referrer_patient_id, has_phone, referred_at, status,
    status_at, reached, loop_closed.

    `reached` follows DOMAIN.md's attempts: an unanswered call (no_answer, voicemail, wrong
    number) is an attempt, not a contact, so the lead stays wanted until someone answers, a
    status event arrives (contacted, an outcome) or the fourth attempt marks it unreachable.
    """
    columns = ["practice_slug", "lead_id", "referrer_patient_id", "lead_phone", "referred_at",
               "status", "status_at", "first_reached_at", "loop_closed_at"]
    exported = mart_leads.select(columns)
    captured = facts.leads.select(columns).join(exported, on=["practice_slug", "lead_id"],
                                                how="anti")
    events = facts.lead_events
    latest = (
        events.filter(pl.col("event") != "loop_closed")
        # (events written by one call share its `at`: the later write is the later status)
        .sort("at", "event_id")
        .group_by("practice_slug", "lead_id")
        .agg(pl.col("event").last().alias("_event"), pl.col("at").last().alias("_at"))
    )
    closed = (
        events.filter(pl.col("event") == "loop_closed")
        .select("practice_slug", "lead_id").unique().with_columns(_closed=pl.lit(True))
    )
    # Every console lead event follows an answered call (or the last attempt).
    reached = (
        events.select("practice_slug", "lead_id").unique().with_columns(_touched=pl.lit(True))
    )
    newer = pl.col("_at").is_not_null() & (
        pl.col("status_at").is_null() | (pl.col("_at") >= pl.col("status_at"))
    )
    return (
        pl.concat([exported, captured], how="vertical_relaxed")
        .join(latest, on=["practice_slug", "lead_id"], how="left")
        .join(closed, on=["practice_slug", "lead_id"], how="left")
        .join(reached, on=["practice_slug", "lead_id"], how="left")
        .select(
            "practice_slug",
            "lead_id",
            "referrer_patient_id",
            pl.col("lead_phone").is_not_null().alias("has_phone"),
            "referred_at",
            pl.when(newer).then(pl.col("_event")).otherwise(pl.col("status")).alias("status"),
            pl.when(newer).then(pl.col("_at")).otherwise(pl.col("status_at")).alias("status_at"),
            (pl.col("first_reached_at").is_not_null() | pl.col("_touched").fill_null(False))
            .alias("reached"),
            (pl.col("loop_closed_at").is_not_null() | pl.col("_closed").fill_null(False))
            .alias("loop_closed"),
        )
    )


def contact_lead_candidates(*, leads: pl.DataFrame, facts: OpsFacts,
                            case_values: pl.DataFrame) -> pl.DataFrame:
    """One contact task per new lead nobody has reached yet (SLA added by the caller).

    Unanswered attempts keep the lead wanted: its task stays open (the disposition moved its
    due time and attempt count) until it is reached or marked unreachable.
    """
    revoked = _revoked_channel(facts.revoked, "call", "lead")
    return (
        leads.filter((pl.col("status") == "new") & ~pl.col("reached"))
        .join(revoked, left_on=["practice_slug", "lead_id"], right_on=["practice_slug", "_sid"],
              how="left")
        .join(case_values, on="practice_slug", how="left")
        .pipe(
            as_tasks, kind=TaskKind.contact_lead, subject_type="lead",
            natural_key=pl.format("contact_lead:{}:{}", "practice_slug", "lead_id"),
            practice_slug="practice_slug", subject_id="lead_id", lead_id="lead_id",
            referrer_patient_id="referrer_patient_id", case_value="avg_case_value",
            consent_call=pl.col("has_phone") & pl.col("revoked_call").is_null(),
            do_not_contact=pl.lit(False),
            due_at="referred_at", sla_deadline="referred_at", decay_from="referred_at",
        )
    )


def close_loop_candidates(*, leads: pl.DataFrame, patients: pl.DataFrame,
                          case_values: pl.DataFrame) -> pl.DataFrame:
    """One task per lead with an outcome whose referrer has not been told (SLA by caller)."""
    people = patients.select(
        "practice_slug", pl.col("patient_id").alias("referrer_patient_id"), "consent_call",
        "do_not_contact", "contactable", "satisfaction_score",
    )  # fmt: skip
    return (
        leads.filter(
            pl.col("status").is_in(LEAD_OUTCOMES)
            & ~pl.col("loop_closed")
            & pl.col("referrer_patient_id").is_not_null()
            & pl.col("status_at").is_not_null()
        )
        .join(people, on=["practice_slug", "referrer_patient_id"], how="inner")
        .filter(pl.col("contactable"))
        .join(case_values, on="practice_slug", how="left")
        .pipe(
            as_tasks, kind=TaskKind.close_loop, subject_type="patient",
            natural_key=pl.format("close_loop:{}:{}", "practice_slug", "lead_id"),
            practice_slug="practice_slug", subject_id="referrer_patient_id",
            patient_id="referrer_patient_id", lead_id="lead_id",
            referrer_patient_id="referrer_patient_id", case_value="avg_case_value",
            satisfaction_score=pl.col("satisfaction_score").cast(pl.Float64),
            consent_call="consent_call", do_not_contact="do_not_contact",
            due_at="status_at", sla_deadline="status_at", decay_from="status_at",
        )
    )


def review_candidates(
    *, candidates: pl.DataFrame, patients: pl.DataFrame, facts: OpsFacts,
    case_values: pl.DataFrame, now: datetime,
) -> pl.DataFrame:
    """Review requests for delighted (≥ 9) or willing patients, none in the review cool-down."""
    # A patient with a recent review request for another treatment waits; the request's
    # own treatment stays wanted, so a refresh does not close what it just opened.
    recent = (
        facts.reviews.filter(pl.col("created_at") >= now - REVIEW_COOLDOWN)
        .group_by("practice_slug", "patient_id")
        .agg(pl.col("treatment_id").alias("_reviewed"))
    )
    people = patients.select("practice_slug", "patient_id", "consent_call", "do_not_contact",
                             "contactable", pl.col("satisfaction_score").alias("_score"))
    sources = pl.concat(
        [
            candidates.select("practice_slug", "patient_id", "treatment_id",
                              "results_visible_at"),
            facts.willing.select("practice_slug", "patient_id", "treatment_id",
                                 "results_visible_at"),
        ],
        how="vertical_relaxed",
    ).unique(subset=["practice_slug", "patient_id", "treatment_id"], keep="first")
    return (
        sources.filter(pl.col("results_visible_at") <= now)
        .join(people, on=["practice_slug", "patient_id"], how="inner")
        .filter(pl.col("contactable"))
        .join(recent, on=["practice_slug", "patient_id"], how="left")
        .filter(
            pl.col("_reviewed").is_null()
            | pl.col("_reviewed").list.contains(pl.col("treatment_id"))
        )
        .join(case_values, on="practice_slug", how="left")
        .pipe(
            as_tasks, kind=TaskKind.review_request, subject_type="patient",
            natural_key=pl.format("review_request:{}:{}:{}", "practice_slug", "patient_id",
                                  "treatment_id"),
            practice_slug="practice_slug", subject_id="patient_id", patient_id="patient_id",
            treatment_id="treatment_id", case_value="avg_case_value",
            satisfaction_score=pl.col("_score").cast(pl.Float64),
            consent_call="consent_call", do_not_contact="do_not_contact",
            due_at="results_visible_at",
            sla_deadline=pl.col("results_visible_at") + REVIEW_SLA,
            decay_from="results_visible_at",
        )
    )


def within_windows(frame: pl.DataFrame, *, now: datetime,
                   windows: HistoryWindows = HISTORY_WINDOWS) -> pl.DataFrame:
    """The candidate rows refresh may open now: lead-driven kinds only inside their window.

    `decay_from` is the trigger time of both kinds (referral for contact_lead, outcome for
    close_loop); a trigger exactly `days` old is still inside the window.
    """
    lead_since = now - timedelta(days=windows.lead_days)
    loop_since = now - timedelta(days=windows.close_loop_days)
    return frame.filter(
        pl.when(pl.col("kind") == TaskKind.contact_lead).then(pl.col("decay_from") >= lead_since)
        .when(pl.col("kind") == TaskKind.close_loop).then(pl.col("decay_from") >= loop_since)
        .otherwise(pl.lit(True))
    )


def blocked_subjects(patients: pl.DataFrame) -> pl.DataFrame:
    """Patients no one may contact any more (do-not-contact, or every channel revoked)."""
    return patients.filter(~pl.col("contactable")).select(
        "practice_slug", pl.lit("patient").alias("subject_type"),
        pl.col("patient_id").alias("subject_id"),
    )  # fmt: skip

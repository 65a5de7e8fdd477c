"""Planning the demo's agency history for one practice: tasks, touches and lead events as frames.

Every function is pure over polars frames plus a seeded numpy generator, so a seed gives the
same plan. Times come from `console/demo/hours.py` (inside the practice's opening hours). Task
rows carry the natural keys `console/work/refresh.py` and `console/work/dispositions.py` use;
follow-ups, whose keys need their root task's id, carry `root_key` and `attempt` and are keyed
after insertion.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl

from console.demo.hours import MINUTE_US, business_days_after, into_hours
from console.models.practice import PracticeSettings
from console.models.work import Disposition, TaskKind
from console.work.sources import ASK_COOLDOWN, ASK_SLA, REVIEW_SLA
from warehouse.rules import REFERRAL_WINDOW_DAYS

HOUR_US = 60 * MINUTE_US
DAY_US = 24 * HOUR_US
UTC_US = pl.Datetime("us", "UTC")
ASK_ON_TIME = 0.9  # asks made within the 7-day SLA
REACH_OTHERS = 0.5  # patients who never referred: reached on some attempt
WILLING_OTHERS = 0.5  # ... and, when reached, willing (the rest decline)
LEAD_ON_TIME = 0.93  # leads first called within one business day
LOOP_ON_TIME = 0.98  # loops closed within two business days
LEAD_EVENT = {"booked": "booked", "treated": "booked", "declined": "declined",
              "contacted": "contacted", "new": "contacted", "unreachable": "unreachable"}
# A lead's last call, by the lead status it ended in.
LEAD_FINAL = {"booked": Disposition.lead_booked, "declined": Disposition.lead_declined,
              "contacted": Disposition.callback_requested, "unreachable": Disposition.no_answer}
OUTCOME_EVENTS = ("booked", "declined", "unreachable")
EXPORT_OUTCOMES = ("booked", "treated", "declined", "unreachable")
ADMIN_BLOCK_MINUTES = 90.0


def _ts(value: datetime) -> pl.Expr:
    return pl.lit(value).dt.cast_time_unit("us").dt.convert_time_zone("UTC")


def _us(values: np.ndarray) -> pl.Series:
    return pl.Series(values.astype(np.int64)).cast(pl.Duration("us"))


def _pick(rng: np.random.Generator, options: list[str], size: int,
          weights: list[float] | None = None) -> pl.Series:
    return pl.Series(rng.choice(np.array(options), size=size, p=weights)).cast(pl.String)


def _unanswered(rng: np.random.Generator, size: int) -> pl.Series:
    return _pick(rng, [Disposition.voicemail, Disposition.no_answer], size)


def _chain(frame: pl.DataFrame, practice: PracticeSettings, rng: np.random.Generator,
           *, first: str, steps: int, reached_minutes: tuple[float, float]) -> pl.DataFrame:
    """Attempt times `at_0..`: each call in opening hours; retries 1 (no answer) or 2 days later."""
    size = frame.height
    for k in range(steps):
        frame = frame.with_columns(
            pl.Series(f"miss_{k}", _unanswered(rng, size)),
            pl.Series(f"min_{k}", np.round(rng.uniform(2.0, 5.0, size) * 2) / 2),
            pl.Series(f"hit_min_{k}", np.round(rng.uniform(*reached_minutes, size) * 2) / 2),
            pl.Series(f"spread_{k}", rng.random(size)),
            _us(rng.uniform(0, 4 * HOUR_US, size)).alias(f"jitter_{k}"),
        )
    for k in range(steps):
        if k == 0:
            start = pl.col(first)
        else:
            gap = pl.when(pl.col(f"miss_{k - 1}") == Disposition.voicemail).then(2).otherwise(1)
            start = (pl.col(f"at_{k - 1}") + pl.duration(days=gap) + pl.col(f"jitter_{k}"))
        frame = frame.with_columns(start.alias(f"due_{k}"))
        frame = frame.with_columns(
            into_hours(f"due_{k}", practice,
                       minutes=pl.max_horizontal(f"hit_min_{k}", f"min_{k}"),
                       spread=pl.col(f"spread_{k}")).alias(f"at_{k}")
        )
    return frame


def _long(frame: pl.DataFrame, steps: int, keep: list[str]) -> pl.DataFrame:
    """One row per attempt that happens: attempt number, start, minutes and disposition."""
    parts = []
    for k in range(steps):
        last = pl.col("attempts") - 1 == k
        parts.append(
            frame.filter(pl.col("attempts") > k).select(
                *keep,
                pl.lit(k + 1).alias("attempt"),
                pl.col(f"due_{k}").alias("due_at"),
                pl.col(f"at_{k}").alias("started_at"),
                pl.when(last & pl.col("reached")).then(pl.col(f"hit_min_{k}"))
                .otherwise(pl.col(f"min_{k}")).alias("minutes"),
                pl.when(last & pl.col("reached")).then(pl.col("final"))
                .otherwise(pl.col(f"miss_{k}")).alias("disposition"),
            )
        )
    return pl.concat(parts).with_columns(
        ended_at=pl.col("started_at")
        + pl.duration(microseconds=(pl.col("minutes") * MINUTE_US).cast(pl.Int64))
    )


def plan_asks(*, practice: PracticeSettings, treatments: pl.DataFrame, callable_ids: pl.DataFrame,
              leads: pl.DataFrame, cutoff: datetime, until: datetime,
              rng: np.random.Generator) -> pl.DataFrame:
    """Ask attempts for treatments whose results became visible since onboarding and before
    `cutoff` (long form), the calls that ended before `until`.

    Patients who referred a lead within the referral window (180 days) are reached and willing;
    others are reached on some attempt with REACH_OTHERS and willing with WILLING_OTHERS. One ask
    per patient per ask cool-down (180 days), as the task sources demand.
    """
    onboarded = practice.onboarded_at
    assert onboarded is not None
    visible = pl.col("results_visible_at")
    base = (
        treatments.filter((visible >= _ts(onboarded)) & (visible < _ts(cutoff)))
        .join(callable_ids, on="patient_id", how="semi", maintain_order="left")
        .sort("patient_id", "results_visible_at", "treatment_id")
        .filter(
            (visible - visible.shift(1).over("patient_id")).is_null()
            | (visible - visible.shift(1).over("patient_id") >= ASK_COOLDOWN)
        )
    )
    referred = (
        base.select("treatment_id", "patient_id", "results_visible_at")
        .join(leads.select(pl.col("referrer_patient_id").alias("patient_id"), "referred_at"),
              on="patient_id")
        .filter((pl.col("referred_at") >= visible)
                & (pl.col("referred_at") <= visible + timedelta(days=REFERRAL_WINDOW_DAYS)))
        .group_by("treatment_id", maintain_order=True)
        .agg(pl.col("referred_at").min().alias("lead_at"))
    )
    frame = base.join(referred, on="treatment_id", how="left").sort("results_visible_at",
                                                                    "treatment_id")
    size = frame.height
    on_time = rng.random(size) < ASK_ON_TIME
    delay = np.where(on_time, rng.uniform(0.05, 5.5, size), rng.uniform(7.5, 20.0, size))
    referrer = frame["lead_at"].is_not_null().to_numpy()
    reached = referrer | (rng.random(size) < REACH_OTHERS)
    willing = referrer | (rng.random(size) < WILLING_OTHERS)
    misses = rng.choice([0, 1, 2], size=size, p=[0.6, 0.3, 0.1])
    frame = frame.with_columns(
        first=visible + _us(delay * DAY_US),
        reached=pl.Series(reached),
        willing=pl.Series(willing),
        attempts=pl.Series(np.where(reached, misses + 1, 3)),
    )
    frame = _chain(frame, practice, rng, first="first", steps=3, reached_minutes=(4.0, 12.0))
    reach_at = pl.coalesce(
        *[pl.when(pl.col("attempts") == k + 1).then(pl.col(f"at_{k}")) for k in range(3)]
    )
    close_to_lead = (pl.col("lead_at") - reach_at).abs() <= timedelta(days=3)
    frame = frame.with_columns(
        final=pl.when(~pl.col("willing")).then(pl.lit(Disposition.declined))
        .when(pl.col("lead_at").is_not_null() & close_to_lead).then(pl.lit(Disposition.referred))
        .otherwise(pl.lit(Disposition.willing_no_name))
    )
    keep = ["treatment_id", "patient_id", "category", "value", "results_visible_at", "attempts"]
    return _long(frame, 3, keep).filter(pl.col("ended_at") < _ts(until))


def _patient_task(practice: PracticeSettings) -> list[pl.Expr | str]:
    return [
        pl.lit(practice.practice_slug).alias("practice_slug"),
        pl.lit(practice.timezone).alias("practice_tz"),
        pl.lit("patient").alias("subject_type"),
        pl.col("patient_id").alias("subject_id"),
        "patient_id",
    ]


def ask_tasks(attempts: pl.DataFrame, practice: PracticeSettings, *,
              rng: np.random.Generator) -> pl.DataFrame:
    """Ask, follow-up and review_request task rows from the ask attempts."""
    slug = practice.practice_slug
    visible = pl.col("results_visible_at")
    common = [*_patient_task(practice), "treatment_id", "category",
              pl.col("value").alias("case_value")]
    root_key = pl.format("ask:{}:{}", pl.lit(slug), "treatment_id")
    previous = pl.col("ended_at").shift(1).over("treatment_id")
    chain = attempts.sort("treatment_id", "attempt").with_columns(
        root_key=root_key, previous_end=previous,
    )
    asks = chain.filter(pl.col("attempt") == 1).select(
        pl.col("root_key").alias("natural_key"), pl.lit(TaskKind.ask).alias("kind"), *common,
        visible.alias("created_at"), visible.alias("due_at"),
        (visible + ASK_SLA).alias("sla_deadline"), visible.alias("decay_from"),
        pl.lit(1).alias("attempt"), pl.lit(None, dtype=pl.String).alias("root_key"),
        pl.lit("done").alias("status"), pl.col("ended_at").alias("closed_at"),
        pl.col("disposition").alias("close_reason"),
    )
    follow_ups = chain.filter(pl.col("attempt") > 1).select(
        pl.lit(None, dtype=pl.String).alias("natural_key"),
        pl.lit(TaskKind.follow_up).alias("kind"),
        *common, pl.col("previous_end").alias("created_at"), "due_at",
        business_days_after("due_at", practice, practice.follow_up_sla_business_days)
        .alias("sla_deadline"),
        visible.alias("decay_from"), "attempt", "root_key",
        pl.lit("done").alias("status"), pl.col("ended_at").alias("closed_at"),
        pl.col("disposition").alias("close_reason"),
    )
    # A chain cut off by the quiet last days leaves its next follow-up open (console's rule).
    last = chain.group_by("treatment_id", maintain_order=True).agg(
        pl.all().sort_by("attempt").last())
    pending = last.filter(pl.col("attempt") < pl.col("attempts")).with_columns(
        due_next=pl.col("ended_at") + pl.duration(
            days=pl.when(pl.col("disposition") == Disposition.voicemail).then(2).otherwise(1))
    ).select(
        pl.lit(None, dtype=pl.String).alias("natural_key"),
        pl.lit(TaskKind.follow_up).alias("kind"),
        *common, pl.col("ended_at").alias("created_at"), pl.col("due_next").alias("due_at"),
        business_days_after("due_next", practice, practice.follow_up_sla_business_days)
        .alias("sla_deadline"),
        visible.alias("decay_from"), (pl.col("attempt") + 1).alias("attempt"), "root_key",
        pl.lit("open").alias("status"), pl.lit(None, dtype=UTC_US).alias("closed_at"),
        pl.lit(None, dtype=pl.String).alias("close_reason"),
    )
    willing = chain.filter(
        pl.col("disposition").is_in([Disposition.willing_no_name, Disposition.referred]))
    sent = willing["ended_at"] + _us(rng.uniform(1, 30, willing.height) * MINUTE_US)
    reviews = willing.with_columns(sent_at=sent).select(
        pl.format("review_request:{}:{}:{}", pl.lit(slug), "patient_id", "treatment_id")
        .alias("natural_key"), pl.lit(TaskKind.review_request).alias("kind"), *common,
        pl.col("ended_at").alias("created_at"), visible.alias("due_at"),
        (visible + REVIEW_SLA).alias("sla_deadline"), visible.alias("decay_from"),
        pl.lit(1).alias("attempt"), pl.lit(None, dtype=pl.String).alias("root_key"),
        pl.lit("done").alias("status"), pl.col("sent_at").alias("closed_at"),
        pl.lit("link_sent").alias("close_reason"),
    )
    return pl.concat([asks, follow_ups, pending, reviews], how="vertical_relaxed")


def plan_leads(*, practice: PracticeSettings, leads: pl.DataFrame, cutoff: datetime,
               until: datetime, rng: np.random.Generator) -> pl.DataFrame:
    """Contact attempts for export leads referred since onboarding and before `cutoff` (long
    form), the calls that ended before `until`.

    LEAD_ON_TIME of first calls fall within one business day; a lead the export calls
    unreachable gets four unanswered calls, the others are reached on the call that logs
    the export's outcome (booked, declined) or a callback request.
    """
    onboarded = practice.onboarded_at
    assert onboarded is not None
    referred = pl.col("referred_at")
    frame = (
        leads.filter((referred >= _ts(onboarded)) & (referred < _ts(cutoff))
                     & pl.col("has_phone"))
        .sort("referred_at", "lead_id")
        .with_columns(deadline=business_days_after("referred_at", practice, 1))
    )
    size = frame.height
    on_time = rng.random(size) < LEAD_ON_TIME
    early = rng.uniform(5 * MINUTE_US, 3 * HOUR_US, size)
    late = rng.uniform(2 * HOUR_US, 30 * HOUR_US, size)
    unreachable = (frame["status"] == "unreachable").to_numpy()
    misses = rng.choice([0, 1, 2], size=size, p=[0.85, 0.12, 0.03])
    frame = frame.with_columns(
        first=pl.when(pl.Series(on_time)).then(referred + _us(early))
        .otherwise(pl.col("deadline") + _us(late)),
        reached=pl.Series(~unreachable),
        attempts=pl.Series(np.where(unreachable, 4, misses + 1)),
        final=pl.col("status").replace_strict(
            {"treated": Disposition.lead_booked, "new": Disposition.callback_requested}
            | LEAD_FINAL,
            default=Disposition.callback_requested, return_dtype=pl.String),
    )
    frame = _chain(frame, practice, rng, first="first", steps=4, reached_minutes=(5.0, 12.0))
    keep = ["lead_id", "referrer_patient_id", "referred_at", "deadline", "status",
            "booked_value", "attempts"]
    return _long(frame, 4, keep).filter(pl.col("ended_at") < _ts(until))


def lead_tasks(attempts: pl.DataFrame, practice: PracticeSettings) -> tuple[pl.DataFrame,
                                                                            pl.DataFrame]:
    """The contact_lead task per lead and the lead events its last call recorded."""
    last = attempts.group_by("lead_id", maintain_order=True).agg(
        pl.all().sort_by("attempt").last())
    complete = pl.col("attempt") == pl.col("attempts")
    tasks = last.select(
        pl.format("contact_lead:{}:{}", pl.lit(practice.practice_slug), "lead_id")
        .alias("natural_key"), pl.lit(TaskKind.contact_lead).alias("kind"),
        pl.lit(practice.practice_slug).alias("practice_slug"),
        pl.lit(practice.timezone).alias("practice_tz"), pl.lit("lead").alias("subject_type"),
        pl.col("lead_id").alias("subject_id"), "lead_id", "referrer_patient_id",
        pl.col("referred_at").alias("created_at"), pl.col("referred_at").alias("due_at"),
        pl.col("deadline").alias("sla_deadline"), pl.col("referred_at").alias("decay_from"),
        pl.when(complete).then(pl.col("attempt")).otherwise(pl.col("attempt") + 1)
        .alias("attempt"),
        pl.lit(None, dtype=pl.String).alias("root_key"),
        pl.when(complete).then(pl.lit("done")).otherwise(pl.lit("open")).alias("status"),
        pl.when(complete).then(pl.col("ended_at")).alias("closed_at"),
        pl.when(complete).then(pl.col("disposition")).alias("close_reason"),
    )
    events = last.filter(complete).select(
        pl.lit(practice.practice_slug).alias("practice_slug"), "lead_id",
        pl.col("status").replace_strict(LEAD_EVENT, return_dtype=pl.String).alias("event"),
        pl.col("ended_at").alias("at"),
        pl.when(pl.col("status").is_in(["booked", "treated"])).then(pl.col("booked_value"))
        .alias("booked_value"),
    )
    return tasks, events


def plan_loops(*, practice: PracticeSettings, leads: pl.DataFrame, events: pl.DataFrame,
               callable_ids: pl.DataFrame, cutoff: datetime, until: datetime,
               rng: np.random.Generator) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """close_loop tasks, loop_closed calls and events for lead outcomes since onboarding and
    before `cutoff`, closed by calls that ended before `until`."""
    onboarded = practice.onboarded_at
    assert onboarded is not None
    logged = events.filter(pl.col("event").is_in(OUTCOME_EVENTS)).select(
        "lead_id", pl.col("at").alias("logged_at"))
    outcome = pl.min_horizontal(
        "logged_at", pl.when(pl.col("status").is_in(EXPORT_OUTCOMES)).then(pl.col("status_at")))
    frame = (
        leads.filter(pl.col("referrer_patient_id").is_not_null())
        .join(callable_ids.rename({"patient_id": "referrer_patient_id"}),
              on="referrer_patient_id", how="semi", maintain_order="left")
        .join(logged, on="lead_id", how="left", maintain_order="left")
        .with_columns(outcome_at=outcome)
        .filter((pl.col("outcome_at") >= _ts(onboarded)) & (pl.col("outcome_at") < _ts(cutoff)))
        .sort("outcome_at", "lead_id")
        .with_columns(deadline=business_days_after(
            "outcome_at", practice, practice.close_loop_sla_business_days))
    )
    size = frame.height
    minutes = np.round(rng.uniform(3.0, 8.0, size) * 2) / 2
    on_time = rng.random(size) < LOOP_ON_TIME
    frame = frame.with_columns(
        minutes=pl.Series(minutes),
        wanted=pl.when(pl.Series(on_time))
        .then(pl.col("outcome_at") + _us(rng.uniform(0.5 * HOUR_US, 20 * HOUR_US, size)))
        .otherwise(pl.col("deadline") + _us(rng.uniform(3 * HOUR_US, 4 * DAY_US, size))),
        spread=pl.Series(rng.random(size)),
    ).with_columns(
        started_at=into_hours("wanted", practice, minutes=pl.col("minutes"),
                              spread=pl.col("spread"))
    ).with_columns(
        ended_at=pl.col("started_at")
        + pl.duration(microseconds=(pl.col("minutes") * MINUTE_US).cast(pl.Int64))
    ).filter(pl.col("ended_at") < _ts(until))
    key = pl.format("close_loop:{}:{}", pl.lit(practice.practice_slug), "lead_id")
    tasks = frame.select(
        key.alias("natural_key"), pl.lit(TaskKind.close_loop).alias("kind"),
        pl.lit(practice.practice_slug).alias("practice_slug"),
        pl.lit(practice.timezone).alias("practice_tz"), pl.lit("patient").alias("subject_type"),
        pl.col("referrer_patient_id").alias("subject_id"),
        pl.col("referrer_patient_id").alias("patient_id"), "lead_id", "referrer_patient_id",
        pl.col("outcome_at").alias("created_at"), pl.col("outcome_at").alias("due_at"),
        pl.col("deadline").alias("sla_deadline"), pl.col("outcome_at").alias("decay_from"),
        pl.lit(1).alias("attempt"), pl.lit(None, dtype=pl.String).alias("root_key"),
        pl.lit("done").alias("status"), pl.col("ended_at").alias("closed_at"),
        pl.lit(Disposition.loop_closed).alias("close_reason"),
    )
    touches = frame.select(
        key.alias("task_key"), pl.lit(TaskKind.close_loop).alias("task_kind"),
        pl.lit("patient").alias("subject_type"),
        pl.col("referrer_patient_id").alias("subject_id"),
        pl.col("referrer_patient_id").alias("patient_id"), "lead_id",
        pl.lit(None, dtype=pl.String).alias("treatment_id"),
        pl.lit(Disposition.loop_closed).alias("disposition"), "minutes", "started_at", "ended_at",
    )
    closed = frame.select(
        pl.lit(practice.practice_slug).alias("practice_slug"), "lead_id",
        pl.lit("loop_closed").alias("event"), pl.col("ended_at").alias("at"),
        pl.lit(None, dtype=pl.Float64).alias("booked_value"),
    )
    return tasks, touches, closed

"""Realistic, deterministic multi-practice exports in the canonical contract.

The contract is docs/data-contract.md.

Everything is drawn in bulk with one numpy generator seeded by `seed`, relative to `now`;
the same seed and the same `now` give byte-identical files.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.contract import (
    CATEGORY_LAG_DAYS,
    LEAD_STATUSES,
    PATIENTS,
    PRACTICES,
    REFERRALS,
    TREATMENT_CATEGORIES,
    TREATMENTS,
)
from pipelines.generate_catalogue import CATALOGUE, category_mix
from pipelines.generate_dirty import add_dirty_rows
from pipelines.generate_people import draw_emails, draw_names, draw_phones, format_bool
from pipelines.generate_practices import PracticeFrame, draw_practices
from pipelines.parsing import local_to_utc
from pipelines.sources import FORMATS

SECOND = 1_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
_LOCAL_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M")
# lead status codes, in contract order
_NEW, _CONTACTED, _BOOKED, _TREATED, _DECLINED, _UNREACHABLE = range(6)


@dataclass(frozen=True)
class GenerateSummary:
    """What `generate_exports` wrote."""

    out: Path
    practices: int
    patients: int
    treatments: int
    referrals: int
    dirty_rows: int

    def to_json(self) -> dict[str, object]:
        """The summary as plain JSON values."""
        return {**asdict(self), "out": str(self.out)}


def _lookup(values: np.ndarray | list[str], index: pl.Expr) -> pl.Expr:
    """The entry of `values` at each row's `index` (a small per-practice or catalogue table)."""
    return pl.lit(pl.Series(values)).gather(index)


def _local_text(us: pl.Expr, style: pl.Expr) -> pl.Expr:
    """Naive local microseconds written in the practice's timestamp style."""
    stamp = us.cast(pl.Datetime("us"))
    return (
        pl.when(style == 0)
        .then(stamp.dt.to_string(_LOCAL_FORMATS[0]))
        .otherwise(stamp.dt.to_string(_LOCAL_FORMATS[1]))
    )


def _draw_treatments(
    rng: np.random.Generator, practices: PracticeFrame, months: int
) -> pl.DataFrame:
    """One row per treatment, sorted by practice then completion, with patient ranks."""
    window_days = max(1, round(months * 365.25 / 12))
    counts = rng.poisson(practices.per_year * months / 12)
    practice = np.repeat(np.arange(practices.size), counts)
    size = int(counts.sum())
    today = (practices.now_local // DAY) * DAY
    completed = (
        today[practice]
        - rng.integers(1, window_days + 1, size) * DAY
        + rng.integers(8, 18, size) * HOUR
        + rng.integers(0, 4, size) * 15 * MINUTE
    )
    order = np.lexsort((completed, practice))
    practice, completed = practice[order], completed[order]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    rank = np.arange(size) - starts[practice]
    patients = np.where(counts > 0, np.maximum(1, np.round(counts * 0.75)), 0).astype(np.int64)
    repeat_patient = np.floor(rng.random(size) * patients[practice]).astype(np.int64)
    patient_rank = np.where(rank < patients[practice], rank, repeat_patient)

    cumulative = np.cumsum(np.array(category_mix()), axis=1)
    category = (rng.random(size)[:, None] >= cumulative[practices.specialty[practice]]).sum(1)
    category = np.minimum(category, len(TREATMENT_CATEGORIES) - 1)
    item = 2 * category + (rng.random(size) < 0.35)
    low = np.array([entry.low for entry in CATALOGUE])[item]
    high = np.array([entry.high for entry in CATALOGUE])[item]
    value = np.round((low + (high - low) * rng.beta(2, 3, size)) / 50) * 50
    lag = np.array([CATEGORY_LAG_DAYS[name] for name in TREATMENT_CATEGORIES])[category]
    visible = completed + lag * DAY
    given_visible = rng.random(size) < 0.2
    given_shift = rng.integers(0, 3, size) * DAY
    return pl.DataFrame(
        {
            "practice": practice,
            "rank": rank,
            "patient_rank": patient_rank,
            "item": item,
            "category": category,
            "value": value,
            "completed": completed,
            "visible": visible,
            "given_visible": given_visible,
            "given_shift": given_shift,
        }
    ).with_columns(patients_in_practice=pl.Series(patients[practice]))


def _draw_leads(
    rng: np.random.Generator, practices: PracticeFrame, treatments: pl.DataFrame
) -> pl.DataFrame:
    """Referral events: passive before onboarding, systematic after, plus a few fresh leads."""
    practice = treatments["practice"].to_numpy()
    visible = treatments["visible"].to_numpy()
    size = len(practice)
    now_local = practices.now_local[practice]
    after = visible >= practices.onboarded_local[practice]
    rate = np.where(after, practices.post_rate[practice], practices.base_rate[practice])
    refers = (rng.random(size) < rate) & (visible < now_local)
    delay = (np.minimum(rng.exponential(20.0, size), 170.0) * DAY).astype(np.int64)
    second = rng.random(size) < 0.1
    second_delay = delay + rng.integers(1, 11, size) * DAY
    referrer = treatments["patient_rank"].to_numpy()
    lead_practice = np.concatenate([practice[refers], practice[refers & second]])
    lead_referrer = np.concatenate([referrer[refers], referrer[refers & second]])
    lead_at = np.concatenate([(visible + delay)[refers], (visible + second_delay)[refers & second]])
    # A few leads from the last three days, so every practice has contact_lead work now.
    fresh_count = np.where(practices.patients > 0, rng.integers(1, 4, practices.size), 0)
    fresh_practice = np.repeat(np.arange(practices.size), fresh_count)
    fresh_referrer = np.floor(
        rng.random(len(fresh_practice)) * practices.patients[fresh_practice]
    ).astype(np.int64)
    fresh_at = practices.now_local[fresh_practice] - (
        rng.uniform(0.05, 3.0, len(fresh_practice)) * DAY
    ).astype(np.int64)
    frame = pl.DataFrame(
        {
            "practice": np.concatenate([lead_practice, fresh_practice]),
            "referrer_rank": np.concatenate([lead_referrer, fresh_referrer]),
            "referred": np.concatenate([lead_at, fresh_at]),
        }
    )
    frame = frame.filter(
        pl.col("referred") < _lookup(practices.now_local, pl.col("practice"))
    ).sort(["practice", "referred"], maintain_order=True)
    return _lead_outcomes(rng, practices, frame)


def _lead_outcomes(
    rng: np.random.Generator, practices: PracticeFrame, leads: pl.DataFrame
) -> pl.DataFrame:
    """Status, status time and booked value by lead age: young leads are new, old ones closed."""
    practice = leads["practice"].to_numpy()
    referred = leads["referred"].to_numpy()
    size = len(practice)
    age = (practices.now_local[practice] - referred) / DAY
    draw = rng.random(size)
    young = np.array([_NEW, _CONTACTED])[np.searchsorted([0.8, 1.0], draw, side="right").clip(0, 1)]
    middle = np.array([_NEW, _CONTACTED, _BOOKED, _DECLINED, _UNREACHABLE])[
        np.searchsorted([0.15, 0.6, 0.8, 0.9, 1.0], draw, side="right").clip(0, 4)
    ]
    old = np.array([_CONTACTED, _BOOKED, _TREATED, _DECLINED, _UNREACHABLE])[
        np.searchsorted([0.1, 0.4, 0.7, 0.9, 1.0], draw, side="right").clip(0, 4)
    ]
    status = np.where(age < 2, young, np.where(age < 14, middle, old))
    status_gap = rng.uniform(0.05, 0.9, size) * np.minimum(age, 30.0) * DAY
    status_at = referred + status_gap.astype(np.int64)
    booked = np.isin(status, [_BOOKED, _TREATED])
    case_value = practices.case_value[practice] * rng.uniform(0.7, 1.3, size)
    booked_value = np.where(booked, np.round(case_value / 50) * 50, np.nan)
    no_referrer = rng.random(size) < 0.02
    return leads.with_columns(
        rank=pl.int_range(pl.len()).over("practice"),
        status=pl.Series(status),
        status_at=pl.Series(status_at),
        booked_value=pl.Series(booked_value).fill_nan(None),
        no_referrer=pl.Series(no_referrer),
    )


def _patients_frame(
    rng: np.random.Generator, practices: PracticeFrame, treatments: pl.DataFrame
) -> pl.DataFrame:
    """One row per treated patient: first treatment gives when the record was last updated."""
    firsts = treatments.filter(pl.col("rank") < pl.col("patients_in_practice"))
    size = firsts.height
    practice = firsts["practice"].to_numpy()
    names = draw_names(rng, size)
    updated = firsts["completed"].to_numpy() + (rng.uniform(0, 30, size) * DAY).astype(np.int64)
    updated = np.minimum(updated, practices.now_local[practice] - HOUR)
    return _people(rng, practices, practice, names, blank_email=0.1).with_columns(
        patient_rank=firsts["rank"], updated=pl.Series(updated)
    )


def _people(
    rng: np.random.Generator,
    practices: PracticeFrame,
    practice: np.ndarray,
    names: pl.DataFrame,
    *,
    blank_email: float,
) -> pl.DataFrame:
    """Names, contact details, consent and satisfaction for a batch of people."""
    size = len(practice)
    area = practices.area_code(rng, practice)
    scores = rng.choice(
        11, size, p=[0.01, 0.01, 0.01, 0.01, 0.02, 0.03, 0.04, 0.08, 0.15, 0.25, 0.39]
    )
    return names.with_columns(
        practice=pl.Series(practice),
        phone=draw_phones(rng, area, blank_share=0.05),
        email=draw_emails(rng, names, blank_share=blank_email),
        consent_call=pl.Series(rng.random(size) < 0.92),
        consent_text=pl.Series(rng.random(size) < 0.75),
        consent_email=pl.Series(rng.random(size) < 0.85),
        do_not_contact=pl.Series(rng.random(size) < 0.03),
        satisfaction_score=pl.Series(np.where(rng.random(size) < 0.7, scores, -1)),
    )


def _id(prefix: str, rank: pl.Expr, width: int = 6) -> pl.Expr:
    """A practice-local identifier such as P000042."""
    return pl.concat_str(pl.lit(prefix), (rank + 1).cast(pl.String).str.zfill(width))


def _patients_csv(people: pl.DataFrame, practices: PracticeFrame) -> pl.DataFrame:
    """Patients in the contract's columns, as text."""
    style = _lookup(practices.bool_style, pl.col("practice"))
    clock = _lookup(practices.time_style, pl.col("practice"))
    return people.select(
        practice_slug=_lookup(practices.slug, pl.col("practice")),
        patient_id=_id("P", pl.col("patient_rank")),
        first_name=pl.col("first_name"),
        last_name=pl.col("last_name"),
        phone=pl.col("phone"),
        email=pl.col("email"),
        consent_call=format_bool(pl.col("consent_call"), style),
        consent_text=format_bool(pl.col("consent_text"), style),
        consent_email=format_bool(pl.col("consent_email"), style),
        do_not_contact=format_bool(pl.col("do_not_contact"), style),
        satisfaction_score=pl.when(pl.col("satisfaction_score") >= 0).then(
            pl.col("satisfaction_score").cast(pl.String)
        ),
        updated_at=_local_text(pl.col("updated"), clock),
    )


def _treatments_csv(
    treatments: pl.DataFrame, practices: PracticeFrame, given_visible: bool = True
) -> pl.DataFrame:
    """Treatments in the contract's columns, as text; most leave results_visible_at blank."""
    clock = _lookup(practices.time_style, pl.col("practice"))
    item = pl.col("item")
    visible_date = (pl.col("visible") + pl.col("given_shift")).cast(pl.Datetime("us"))
    return treatments.select(
        practice_slug=_lookup(practices.slug, pl.col("practice")),
        treatment_id=_id("TX", pl.col("rank")),
        patient_id=_id("P", pl.col("patient_rank")),
        treatment_code=_lookup([entry.code for entry in CATALOGUE], item),
        category=_lookup([entry.category for entry in CATALOGUE], item),
        description=_lookup([entry.description for entry in CATALOGUE], item),
        value=pl.col("value").cast(pl.Int64).cast(pl.String),
        completed_at=_local_text(pl.col("completed"), clock),
        results_visible_at=pl.when(pl.col("given_visible") & pl.lit(given_visible)).then(
            visible_date.dt.to_string("%Y-%m-%d")
        ),
    )


def _referrals_csv(
    rng: np.random.Generator, leads: pl.DataFrame, practices: PracticeFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Referrals as text (timestamps in UTC, as web intake tools write them) and the
    patients that treated leads became."""
    practice = leads["practice"].to_numpy()
    names = draw_names(rng, leads.height)
    people = _people(rng, practices, practice, names, blank_email=0.2)
    zone = _lookup(practices.timezone, pl.col("practice"))
    zones = set(practices.timezone.tolist())
    is_treated = pl.col("status") == _TREATED
    became_rank = (
        pl.col("patients_in_practice") + is_treated.cast(pl.Int64).cum_sum().over("practice") - 1
    )

    def utc_text(us: pl.Expr) -> pl.Expr:
        return local_to_utc(us.cast(pl.Datetime("us")), zone, zones).dt.to_string(
            "%Y-%m-%dT%H:%M:%SZ"
        )

    frame = (
        pl.concat([leads, people.drop("practice")], how="horizontal")
        .with_columns(patients_in_practice=_lookup(practices.patients, pl.col("practice")))
        .with_columns(became_rank=became_rank)
    )
    referrals = frame.select(
        practice_slug=_lookup(practices.slug, pl.col("practice")),
        lead_id=_id("L", pl.col("rank")),
        referrer_patient_id=pl.when(~pl.col("no_referrer")).then(_id("P", pl.col("referrer_rank"))),
        lead_first_name=pl.col("first_name"),
        lead_last_name=pl.col("last_name"),
        lead_phone=pl.col("phone"),
        lead_email=pl.col("email"),
        referred_at=utc_text(pl.col("referred")),
        status=_lookup(list(LEAD_STATUSES), pl.col("status")),
        status_at=pl.when(pl.col("status") != _NEW).then(utc_text(pl.col("status_at"))),
        booked_value=pl.col("booked_value").cast(pl.Int64).cast(pl.String),
        became_patient_id=pl.when(is_treated).then(_id("P", pl.col("became_rank"))),
    )
    became = frame.filter(is_treated).with_columns(
        patient_rank=pl.col("became_rank"), updated=pl.col("status_at")
    )
    return referrals, became


def generate_exports(
    out: Path,
    *,
    practices: int,
    seed: int,
    months: int,
    now: datetime,
    dirty_share: float = 0.01,
    format: str = "canonical",
    results_visible: bool = True,
    opendental_leads: bool = False,
    batch_practices: int | None = None,
) -> GenerateSummary:
    """Write practices.csv and one folder per practice under `out`; return what was written.

    `format` writes the same world as canonical CSVs, a FHIR Bulk Data export or Open Dental
    table CSVs (deliberately dirty rows are canonical only). `results_visible=False` leaves
    results_visible_at blank in every canonical row (FHIR and Open Dental carry none, so the
    canonical drop is then comparable row for row; the random draws are the same).
    `opendental_leads=True` writes the canonical and FHIR referrals.csv with only what an Open
    Dental refattach row carries (referred_at as its local date, `unreachable` as `declined`;
    the Open Dental tables are the same either way), so canonical and Open Dental drops of one
    world give the same leads, tasks and metrics.
    `batch_practices` (canonical only) draws a world bigger than that many practices one block
    at a time: deterministic too, but not the same rows as drawing it whole.
    """
    if format not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}")
    if practices < 1:
        raise ValueError("--practices must be at least 1")
    if months < 1:
        raise ValueError("--months must be at least 1")
    if not 0.0 <= dirty_share <= 0.5:
        raise ValueError("dirty share must be between 0 and 0.5")
    rng = np.random.default_rng(seed)
    frame = draw_practices(rng, practices, now.astimezone(UTC), months)
    if batch_practices is None or practices <= batch_practices or format != "canonical":
        return _generate_block(
            out, frame, rng, months, dirty_share, format, results_visible, opendental_leads
        )
    # A big world one block of practices at a time (each block its own generator, seeded from
    # `seed` and the block number), so memory follows the block, not the world.
    totals = [0, 0, 0, 0]
    _write_practices(out, frame)
    for number, start in enumerate(range(0, practices, batch_practices)):
        block = frame.block(start, min(start + batch_practices, practices))
        block_rng = np.random.default_rng([seed, number])
        summary = _generate_block(
            out, block, block_rng, months, dirty_share, format, results_visible,
            opendental_leads, write_practices=False,
        )
        for index, count in enumerate(
            (summary.patients, summary.treatments, summary.referrals, summary.dirty_rows)
        ):
            totals[index] += count
    return GenerateSummary(out, practices, *totals)


def _generate_block(
    out: Path,
    frame: PracticeFrame,
    rng: np.random.Generator,
    months: int,
    dirty_share: float,
    format: str,
    results_visible: bool,
    opendental_leads: bool,
    *,
    write_practices: bool = True,
) -> GenerateSummary:
    """Draw and write the rows of the practices in `frame` (and practices.csv, if asked)."""
    treatments = _draw_treatments(rng, frame, months)
    frame = frame.with_patients(treatments)
    leads = _draw_leads(rng, frame, treatments)
    people = _patients_frame(rng, frame, treatments)
    referrals, became = _referrals_csv(rng, leads, frame)
    patient_rows = pl.concat([people, became.select(people.columns)], how="vertical").sort(
        ["practice", "patient_rank"], maintain_order=True
    )
    files = {
        PATIENTS.name: _patients_csv(patient_rows, frame),
        TREATMENTS.name: _treatments_csv(treatments, frame, results_visible),
        REFERRALS.name: referrals,
    }
    if opendental_leads and format != "opendental":
        from pipelines.generate_formats import leads_as_opendental

        files[REFERRALS.name] = leads_as_opendental(files[REFERRALS.name], frame.to_csv())
    if format != "canonical":
        return _write_format(out, frame, files, format)
    dirty = 0
    for name in (PATIENTS.name, TREATMENTS.name, REFERRALS.name):
        files[name], damaged = add_dirty_rows(files[name], name, rng, dirty_share)
        dirty += damaged
    if write_practices:
        _write_practices(out, frame)
    _write(out, frame, files)
    return GenerateSummary(
        out=out,
        practices=frame.size,
        patients=files[PATIENTS.name].height,
        treatments=files[TREATMENTS.name].height,
        referrals=files[REFERRALS.name].height,
        dirty_rows=dirty,
    )


def _write_format(
    out: Path, practices: PracticeFrame, files: dict[str, pl.DataFrame], format: str
) -> GenerateSummary:
    """The clean world as a FHIR export or Open Dental tables, beside the same practices.csv."""
    from pipelines.generate_formats import write_fhir, write_opendental

    out.mkdir(parents=True, exist_ok=True)
    table = practices.to_csv()
    table.select([c for c in PRACTICES.columns if c in table.columns]).write_csv(
        out / PRACTICES.name
    )
    codes = [entry.code for entry in CATALOGUE]
    writer = write_fhir if format == "fhir" else write_opendental
    writer(out, table, files, codes)
    return GenerateSummary(
        out=out,
        practices=practices.size,
        patients=files[PATIENTS.name].height,
        treatments=files[TREATMENTS.name].height,
        referrals=files[REFERRALS.name].height,
        dirty_rows=0,
    )


def _write_practices(out: Path, practices: PracticeFrame) -> None:
    """Write practices.csv."""
    out.mkdir(parents=True, exist_ok=True)
    table = practices.to_csv()
    table.select([c for c in PRACTICES.columns if c in table.columns]).write_csv(
        out / PRACTICES.name
    )


def _write(out: Path, practices: PracticeFrame, files: dict[str, pl.DataFrame]) -> None:
    """Write each practice's three files (header-only when it has no rows)."""
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        parts = data.partition_by("practice_slug", as_dict=True, maintain_order=True)
        empty = data.clear().drop("practice_slug")
        for slug in practices.slug.tolist():
            folder = out / slug
            folder.mkdir(exist_ok=True)
            part = parts.get((slug,))
            body = empty if part is None else part.drop("practice_slug")
            body.write_csv(folder / name)

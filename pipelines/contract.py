"""The canonical export contract: file names, columns, natural keys and allowed values."""

from __future__ import annotations

from dataclasses import dataclass

PRACTICES_FILE = "practices.csv"

TREATMENT_CATEGORIES: tuple[str, ...] = (
    "implant",
    "orthodontic",
    "cosmetic_dental",
    "whitening",
    "injectable",
    "laser_skin",
    "body_contouring",
    "surgical_face",
    "surgical_body",
    "refractive",
    "hair_restoration",
)

# Default days from completion until results are visible (DOMAIN.md); staging owns the
# derivation, the generator uses the same numbers so its data looks like a real export.
CATEGORY_LAG_DAYS: dict[str, int] = {
    "implant": 14,
    "orthodontic": 3,
    "cosmetic_dental": 7,
    "whitening": 2,
    "injectable": 14,
    "laser_skin": 30,
    "body_contouring": 90,
    "surgical_face": 90,
    "surgical_body": 60,
    "refractive": 7,
    "hair_restoration": 180,
}

LEAD_STATUSES: tuple[str, ...] = (
    "new",
    "contacted",
    "booked",
    "treated",
    "declined",
    "unreachable",
)

SPECIALTIES: tuple[str, ...] = (
    "dental_implants",
    "orthodontics",
    "cosmetic_dentistry",
    "med_spa",
    "plastic_surgery",
    "lasik",
    "hair_restoration",
)


@dataclass(frozen=True)
class ExportFile:
    """One file of the contract: its name, columns, natural key and target raw table."""

    name: str
    table: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    key: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """Every contract column, required first."""
        return self.required + self.optional


PRACTICES = ExportFile(
    name=PRACTICES_FILE,
    table="raw_practices",
    required=("practice_slug", "name", "specialty", "timezone", "contracted_hours_per_week"),
    optional=("onboarded_at", "source_format", "monthly_fee"),
    key=("practice_slug",),
)

PATIENTS = ExportFile(
    name="patients.csv",
    table="raw_patients",
    required=(
        "patient_id",
        "first_name",
        "last_name",
        "phone",
        "email",
        "consent_call",
        "consent_text",
        "consent_email",
        "do_not_contact",
        "satisfaction_score",
        "updated_at",
    ),
    optional=(),
    key=("practice_slug", "patient_id"),
)

TREATMENTS = ExportFile(
    name="treatments.csv",
    table="raw_treatments",
    required=(
        "treatment_id",
        "patient_id",
        "treatment_code",
        "category",
        "description",
        "value",
        "completed_at",
        "results_visible_at",
    ),
    optional=(),
    key=("practice_slug", "treatment_id"),
)

REFERRALS = ExportFile(
    name="referrals.csv",
    table="raw_referrals",
    required=(
        "lead_id",
        "referrer_patient_id",
        "lead_first_name",
        "lead_last_name",
        "lead_phone",
        "lead_email",
        "referred_at",
        "status",
        "status_at",
        "booked_value",
        "became_patient_id",
    ),
    optional=(),
    key=("practice_slug", "lead_id"),
)

# Load order matters: treatments and referrals are checked against patients.
PRACTICE_FILES: tuple[ExportFile, ...] = (PATIENTS, TREATMENTS, REFERRALS)

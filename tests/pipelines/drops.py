"""Tiny literal export drops for the pipeline tests."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

PRACTICES_CSV = (
    "practice_slug,name,specialty,timezone,contracted_hours_per_week,onboarded_at\n"
    "alpha,Alpha Implants,dental_implants,America/Chicago,12,2026-05-01\n"
    "beta,Beta Med Spa,med_spa,America/Phoenix,10,\n"
)
PATIENTS_HEADER = (
    "patient_id,first_name,last_name,phone,email,consent_call,consent_text,consent_email,"
    "do_not_contact,satisfaction_score,updated_at\n"
)
PATIENT_OK = "P1,Ann,Lee,(312) 555-0100,Ann@Example.com,yes,Y,1,no,9,2026-10-01T10:00:00\n"
PATIENT_TWO = "P2,Bob,Ray,,,true,false,TRUE,0,,2026-10-02\n"
TREATMENTS_HEADER = (
    "treatment_id,patient_id,treatment_code,category,description,value,completed_at,"
    "results_visible_at\n"
)
TREATMENT_OK = "T1,P1,IMP-SGL,implant,Single implant,4500,2026-11-01 09:30,\n"
REFERRALS_HEADER = (
    "lead_id,referrer_patient_id,lead_first_name,lead_last_name,lead_phone,lead_email,"
    "referred_at,status,status_at,booked_value,became_patient_id\n"
)
REFERRAL_OK = "L1,P1,Cy,Fox,312-555-0199,,2026-11-20T10:00:00Z,new,,,\n"


def write_drop(
    root: Path,
    *,
    practices: str | None = PRACTICES_CSV,
    files: Mapping[str, Mapping[str, str | bytes]] | None = None,
) -> Path:
    """Write practices.csv and per-practice files ({slug: {file name: content}})."""
    root.mkdir(parents=True, exist_ok=True)
    if practices is not None:
        (root / "practices.csv").write_text(practices)
    for slug, contents in (files or {}).items():
        folder = root / slug
        folder.mkdir(exist_ok=True)
        for name, content in contents.items():
            target = folder / name
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
    return root


def healthy(slug_rows: str = "") -> dict[str, str]:
    """A practice folder with one good row per file (plus optional extra patient rows)."""
    return {
        "patients.csv": PATIENTS_HEADER + PATIENT_OK + PATIENT_TWO + slug_rows,
        "treatments.csv": TREATMENTS_HEADER + TREATMENT_OK,
        "referrals.csv": REFERRALS_HEADER + REFERRAL_OK,
    }

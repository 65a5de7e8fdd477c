"""The generated world written as a FHIR R4 Bulk Data export or as Open Dental table CSVs.

The writers take the canonical text frames the generator built (before any deliberately dirty
rows) and express the same patients, treatments, consent and leads in each source's own shape,
so tests and benchmarks can compare formats on identical data. What a format cannot carry is
documented in docs/data-contract.md (results_visible_at and satisfaction in both; lead times of
day and the `unreachable` status in Open Dental).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from pipelines.catalogue import FHIR_SYSTEM_URIS
from pipelines.contract import PATIENTS, REFERRALS, TREATMENTS
from pipelines.parsing import local_to_utc, parse_bool

# A real code for each of the generator's 22 catalogue items (generate_catalogue.CATALOGUE
# order): the generator's own codes are house codes, sources write CDT / CPT / HCPCS.
SOURCE_CODES: tuple[tuple[str, str], ...] = (
    ("CDT", "D6065"),
    ("CDT", "D6114"),
    ("CDT", "D8080"),
    ("CDT", "D8090"),
    ("CDT", "D2962"),
    ("CDT", "D2961"),
    ("CDT", "D9972"),
    ("CDT", "D9975"),
    ("HCPCS", "J0585"),
    ("CPT", "11951"),
    ("CPT", "15780"),
    ("CPT", "17106"),
    ("CPT", "15877"),
    ("CPT", "15879"),
    ("CPT", "30400"),
    ("CPT", "15828"),
    ("CPT", "19325"),
    ("CPT", "15830"),
    ("HCPCS", "S0800"),
    ("HCPCS", "S0810"),
    ("CPT", "15775"),
    ("CPT", "15776"),
)
_LOCAL_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M")
_PROSPECT_BASE = 900_000


def _number(column: str) -> pl.Expr:
    """`P000042` -> 42 (the generator's ids carry a prefix; Open Dental keys are numbers)."""
    return pl.col(column).str.replace_all(r"\D", "").cast(pl.Int64)


def _local(column: str) -> pl.Expr:
    """The generator's naive local text (two styles) as a naive datetime."""
    text = pl.col(column)
    return pl.coalesce(
        text.str.to_datetime(_LOCAL_FORMATS[0], strict=False),
        text.str.to_datetime(_LOCAL_FORMATS[1], strict=False),
    )


def _utc_text(column: str, zones: set[str]) -> pl.Expr:
    return local_to_utc(_local(column), pl.col("_zone"), zones).dt.to_string(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def _with_zone(frame: pl.DataFrame, practices: pl.DataFrame) -> pl.DataFrame:
    return frame.join(
        practices.select("practice_slug", _zone="timezone"), on="practice_slug", how="left"
    )


def _codes(treatments: pl.DataFrame, codes: list[str]) -> pl.DataFrame:
    """The generator's item code -> (system, real code)."""
    mapping = pl.DataFrame(
        {
            "treatment_code": codes,
            "_system": [system for system, _ in SOURCE_CODES],
            "_code": [code for _, code in SOURCE_CODES],
        }
    )
    return treatments.join(mapping, on="treatment_code", how="left", maintain_order="left")


def _dump(path: Path, resources: list[dict[str, object]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for resource in resources:
            handle.write(json.dumps(resource, separators=(",", ":")) + "\n")


def write_fhir(
    out: Path, practices: pl.DataFrame, files: dict[str, pl.DataFrame], codes: list[str]
) -> None:
    """Patient, Procedure, Claim and Consent NDJSON per practice, plus its canonical referrals."""
    zones = set(practices["timezone"].to_list())
    patients = _with_zone(files[PATIENTS.name], practices).with_columns(
        _updated=_utc_text("updated_at", zones),
        _call=parse_bool(pl.col("consent_call")),
        _text=parse_bool(pl.col("consent_text")),
        _email=parse_bool(pl.col("consent_email")),
        _dnc=parse_bool(pl.col("do_not_contact")),
    )
    treatments = _codes(_with_zone(files[TREATMENTS.name], practices), codes).with_columns(
        _performed=_utc_text("completed_at", zones)
    )
    for slug in practices["practice_slug"].to_list():
        folder = out / slug
        folder.mkdir(parents=True, exist_ok=True)
        mine = patients.filter(pl.col("practice_slug") == slug)
        _dump(folder / "Patient.000.ndjson", [_patient(row) for row in mine.iter_rows(named=True)])
        _dump(folder / "Consent.000.ndjson", [_consent(row) for row in mine.iter_rows(named=True)])
        done = treatments.filter(pl.col("practice_slug") == slug)
        rows = list(done.iter_rows(named=True))
        _dump(folder / "Procedure.000.ndjson", [_procedure(row) for row in rows])
        _dump(folder / "Claim.000.ndjson", [_claim(row) for row in rows])
        leads = files[REFERRALS.name].filter(pl.col("practice_slug") == slug)
        leads.drop("practice_slug").write_csv(folder / REFERRALS.name)


def _patient(row: dict[str, object]) -> dict[str, object]:
    telecom: list[dict[str, object]] = []
    if row["phone"]:
        telecom.append({"system": "phone", "value": row["phone"], "use": "mobile", "rank": 1})
    if row["email"]:
        telecom.append({"system": "email", "value": row["email"]})
    resource: dict[str, object] = {
        "resourceType": "Patient",
        "id": row["patient_id"],
        "meta": {"lastUpdated": row["_updated"]},
        "name": [
            {
                "use": "official",
                **({"family": row["last_name"]} if row["last_name"] else {}),
                **({"given": [row["first_name"]]} if row["first_name"] else {}),
            }
        ],
        "telecom": telecom,
    }
    return resource


def _consent(row: dict[str, object]) -> dict[str, object]:
    if row["_dnc"]:
        provision: dict[str, object] = {"type": "deny"}
    else:
        provision = {
            "type": "permit",
            "provision": [
                {
                    "type": "permit" if row[flag] else "deny",
                    "action": [{"coding": [{"code": channel}]}],
                }
                for flag, channel in (("_call", "call"), ("_text", "text"), ("_email", "email"))
            ],
        }
    return {
        "resourceType": "Consent",
        "id": f"consent-{row['patient_id']}",
        "status": "active",
        "patient": {"reference": f"Patient/{row['patient_id']}"},
        "dateTime": row["_updated"],
        "provision": provision,
    }


def _procedure(row: dict[str, object]) -> dict[str, object]:
    return {
        "resourceType": "Procedure",
        "id": row["treatment_id"],
        "status": "completed",
        "code": {
            "coding": [
                {
                    "system": FHIR_SYSTEM_URIS[str(row["_system"])],
                    "code": row["_code"],
                    "display": row["description"],
                }
            ]
        },
        "subject": {"reference": f"Patient/{row['patient_id']}"},
        "performedDateTime": row["_performed"],
    }


def _claim(row: dict[str, object]) -> dict[str, object]:
    return {
        "resourceType": "Claim",
        "id": f"claim-{row['treatment_id']}",
        "status": "active",
        "patient": {"reference": f"Patient/{row['patient_id']}"},
        "procedure": [
            {"sequence": 1, "procedureReference": {"reference": f"Procedure/{row['treatment_id']}"}}
        ],
        "item": [
            {
                "sequence": 1,
                "procedureSequence": [1],
                "productOrService": {
                    "coding": [
                        {"system": FHIR_SYSTEM_URIS[str(row["_system"])], "code": row["_code"]}
                    ]
                },
                "net": {"value": float(str(row["value"])), "currency": "USD"},
            }
        ],
    }


def _od_stamp(column: str) -> pl.Expr:
    return _local(column).dt.to_string("%Y-%m-%d %H:%M:%S")


def write_opendental(
    out: Path, practices: pl.DataFrame, files: dict[str, pl.DataFrame], codes: list[str]
) -> None:
    """Open Dental's patient, procedurelog, procedurecode, referral and refattach tables."""
    zones = set(practices["timezone"].to_list())
    patients = files[PATIENTS.name].with_columns(
        _call=parse_bool(pl.col("consent_call")),
        _text=parse_bool(pl.col("consent_text")),
        _email=parse_bool(pl.col("consent_email")),
        _dnc=parse_bool(pl.col("do_not_contact")),
        _num=_number("patient_id"),
    )
    home_only = pl.col("_num") % 5 == 0  # some patients are reachable only by HmPhone
    contact = (
        pl.when(pl.col("_dnc"))
        .then(1)
        .when(pl.col("_email"))
        .then(5)
        .when(home_only)
        .then(2)
        .otherwise(4)
    )
    recall = pl.when(~pl.col("_call")).then(1).when(pl.col("_email")).then(5).otherwise(0)
    patient_rows = patients.select(
        "practice_slug",
        PatNum=pl.col("_num"),
        LName=pl.col("last_name"),
        FName=pl.col("first_name"),
        Preferred=pl.lit(None, dtype=pl.String),
        PatStatus=pl.lit(0),
        HmPhone=pl.when(home_only).then(pl.col("phone")),
        WkPhone=pl.lit(None, dtype=pl.String),
        WirelessPhone=pl.when(~home_only).then(pl.col("phone")),
        Email=pl.col("email"),
        TxtMsgOk=pl.when(pl.col("_text")).then(1).otherwise(2),
        PreferContactMethod=contact,
        PreferRecallMethod=recall,
        DateTStamp=_od_stamp("updated_at"),
    )
    leads = _with_zone(files[REFERRALS.name], practices).with_columns(
        _lead=_number("lead_id"),
        _referred=pl.col("referred_at").str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC"),
        _status_at=pl.col("status_at").str.to_datetime(
            "%Y-%m-%dT%H:%M:%SZ", time_zone="UTC", strict=False
        ),
    )
    leads = leads.with_columns(
        _referred_local=_to_local(pl.col("_referred"), zones),
        _status_local=_to_local(pl.col("_status_at"), zones),
    )
    treated = pl.col("status") == "treated"
    friend = (
        pl.when(treated)
        .then(_number("became_patient_id"))
        .otherwise(pl.lit(_PROSPECT_BASE) + pl.col("_lead"))
    )
    leads = leads.with_columns(_friend=friend)
    prospects = leads.filter(~treated).select(
        "practice_slug",
        PatNum=pl.col("_friend"),
        LName=pl.col("lead_last_name"),
        FName=pl.col("lead_first_name"),
        Preferred=pl.lit(None, dtype=pl.String),
        PatStatus=pl.lit(6),
        HmPhone=pl.lit(None, dtype=pl.String),
        WkPhone=pl.lit(None, dtype=pl.String),
        WirelessPhone=pl.col("lead_phone"),
        Email=pl.col("lead_email"),
        TxtMsgOk=pl.lit(0),
        PreferContactMethod=pl.lit(0),
        PreferRecallMethod=pl.lit(0),
        DateTStamp=pl.col("_referred_local").dt.to_string("%Y-%m-%d %H:%M:%S"),
    )
    status_code = pl.col("status").replace_strict(
        {"new": 0, "contacted": 3, "booked": 2, "treated": 5, "declined": 1, "unreachable": 1},
        return_dtype=pl.Int64,
    )
    referral_rows = leads.select(
        "practice_slug",
        ReferralNum=pl.col("_lead"),
        PatNum=pl.when(pl.col("referrer_patient_id").is_not_null())
        .then(_number("referrer_patient_id"))
        .otherwise(0),
        LName=pl.lit(None, dtype=pl.String),
        FName=pl.lit(None, dtype=pl.String),
        NotPerson=pl.when(pl.col("referrer_patient_id").is_null()).then(1).otherwise(0),
        IsDoctor=pl.lit(0),
    )
    attach_rows = leads.select(
        "practice_slug",
        RefAttachNum=pl.col("_lead"),
        ReferralNum=pl.col("_lead"),
        PatNum=pl.col("_friend"),
        RefDate=pl.col("_referred_local").dt.to_string("%Y-%m-%d"),
        RefType=pl.lit(1),
        RefToStatus=status_code,
        DateTStamp=pl.coalesce(pl.col("_status_local"), pl.col("_referred_local")).dt.to_string(
            "%Y-%m-%d %H:%M:%S"
        ),
    )
    # A booked or treated friend's case value is a treatment-planned procedure.
    planned = leads.filter(pl.col("booked_value").is_not_null()).select(
        "practice_slug",
        ProcNum=pl.lit(_PROSPECT_BASE) + pl.col("_lead"),
        PatNum=pl.col("_friend"),
        CodeNum=pl.lit(1),
        ProcFee=pl.col("booked_value"),
        UnitQty=pl.lit(1),
        ProcDate=pl.col("_referred_local").dt.to_string("%Y-%m-%d"),
        ProcTime=pl.lit("00:00:00"),
        ProcStatus=pl.lit(1),
        DateComplete=pl.lit("0001-01-01"),
        DateTStamp=pl.col("_referred_local").dt.to_string("%Y-%m-%d %H:%M:%S"),
    )
    code_numbers = {code: i + 1 for i, code in enumerate(codes)}
    treatments = _codes(files[TREATMENTS.name], codes).with_columns(_done=_local("completed_at"))
    procedure_rows = treatments.select(
        "practice_slug",
        ProcNum=_number("treatment_id"),
        PatNum=_number("patient_id"),
        CodeNum=pl.col("treatment_code").replace_strict(code_numbers, return_dtype=pl.Int64),
        ProcFee=pl.col("value"),
        UnitQty=pl.lit(1),
        ProcDate=pl.col("_done").dt.to_string("%Y-%m-%d"),
        ProcTime=pl.col("_done").dt.to_string("%H:%M:%S"),
        ProcStatus=pl.lit(2),
        DateComplete=pl.col("_done").dt.to_string("%Y-%m-%d"),
        DateTStamp=pl.col("_done").dt.to_string("%Y-%m-%d %H:%M:%S"),
    )
    procedure_codes = pl.DataFrame(
        {
            "CodeNum": list(range(1, len(codes) + 1)),
            "ProcCode": [code for _, code in SOURCE_CODES],
            "Descript": [None] * len(codes),
        },
        schema={"CodeNum": pl.Int64, "ProcCode": pl.String, "Descript": pl.String},
    )
    tables = {
        "patient.csv": pl.concat([patient_rows, prospects], how="vertical_relaxed"),
        "procedurelog.csv": pl.concat([procedure_rows, planned], how="vertical_relaxed"),
        "referral.csv": referral_rows,
        "refattach.csv": attach_rows,
    }
    for slug in practices["practice_slug"].to_list():
        folder = out / slug
        folder.mkdir(parents=True, exist_ok=True)
        procedure_codes.write_csv(folder / "procedurecode.csv")
        for name, table in tables.items():
            table.filter(pl.col("practice_slug") == slug).drop("practice_slug").write_csv(
                folder / name
            )


def leads_as_opendental(referrals: pl.DataFrame, practices: pl.DataFrame) -> pl.DataFrame:
    """Canonical referrals holding only what an Open Dental refattach row can carry.

    referred_at becomes its date in the practice's zone (RefDate has no time of day; a date
    without a time reads back as local midnight, docs/data-contract.md "Value formats", as the
    Open Dental reader reads RefDate), and `unreachable` becomes `declined` (RefToStatus has no
    unreachable; write_opendental writes it as Declined).
    """
    zones = set(practices["timezone"].to_list())
    instant = pl.col("referred_at").str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC")
    return (
        _with_zone(referrals, practices)
        .with_columns(
            referred_at=_to_local(instant, zones).dt.to_string("%Y-%m-%d"),
            status=pl.col("status").replace("unreachable", "declined"),
        )
        .drop("_zone")
    )


def _to_local(instant: pl.Expr, zones: set[str]) -> pl.Expr:
    """UTC instants as naive wall-clock time in each row's practice zone (`_zone`)."""
    branches = [
        pl.when(pl.col("_zone") == zone).then(
            instant.dt.convert_time_zone(zone).dt.replace_time_zone(None)
        )
        for zone in sorted(zones)
    ]
    return pl.coalesce(branches) if branches else pl.lit(None, dtype=pl.Datetime("us"))

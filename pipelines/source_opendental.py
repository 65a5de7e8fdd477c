"""Open Dental: its own tables (CSV exports named after the tables, or a live database read).

Extract only: `patient` -> patients, `procedurelog` (+ `procedurecode`) -> treatments, and
`refattach` (+ `referral`, the friend's `patient` row and procedures) -> leads. The same
mapping serves table CSVs and the live read (pipelines/opendental_live.py), so both load the
same rows. docs/data-contract.md describes every rule.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.catalogue import TABLE_SYSTEMS, Catalogue
from pipelines.contract import PATIENTS, REFERRALS, TREATMENTS, ExportFile
from pipelines.extract import extract
from pipelines.precheck import FileCheck, check_file
from pipelines.sources import SourceRead, strip_extension_expr


def _table(name: str, key: str, required: tuple[str, ...], optional: tuple[str, ...]) -> ExportFile:
    return ExportFile(
        name=f"{name}.csv",
        table=name,
        required=required,
        optional=optional,
        key=("practice_slug", key),
    )


TABLES: dict[str, ExportFile] = {
    "patient": _table(
        "patient",
        "PatNum",
        ("PatNum", "LName", "FName", "PatStatus", "HmPhone", "WkPhone", "WirelessPhone", "Email"),
        ("Preferred", "TxtMsgOk", "PreferContactMethod", "PreferRecallMethod", "DateTStamp"),
    ),
    "procedurelog": _table(
        "procedurelog",
        "ProcNum",
        ("ProcNum", "PatNum", "CodeNum", "ProcFee", "ProcDate", "ProcStatus"),
        ("UnitQty", "DateComplete", "ProcTime", "DateTStamp"),
    ),
    "procedurecode": _table("procedurecode", "CodeNum", ("CodeNum", "ProcCode"), ("Descript",)),
    "referral": _table(
        "referral",
        "ReferralNum",
        ("ReferralNum", "PatNum"),
        ("LName", "FName", "Telephone", "EMail", "NotPerson", "IsDoctor"),
    ),
    "refattach": _table(
        "refattach",
        "RefAttachNum",
        ("RefAttachNum", "ReferralNum", "PatNum", "RefDate", "RefType"),
        ("RefToStatus", "DateTStamp"),
    ),
    "commoptout": _table("commoptout", "PatNum", ("PatNum", "OptOutSms", "OptOutEmail"), ()),
}
# Tables a practice must provide for anything to load; the others are optional.
MAIN_TABLES = ("patient", "procedurelog", "procedurecode")

# PatStatus, ProcStatus, ContactMethod and RefToStatus values used below.
_DELETED, _DECEASED, _PROSPECTIVE = 4, 5, 6
_COMPLETE, _TREATMENT_PLANNED = 2, 1
_DO_NOT_CALL, _HOME, _WORK, _WIRELESS, _EMAIL = 1, 2, 3, 4, 5
_REFERRED_FROM = 1
_REF_TO_STATUS = {0: "new", 1: "declined", 2: "booked", 3: "contacted", 4: "booked", 5: "treated"}


def _int(column: str) -> pl.Expr:
    return pl.col(column).str.strip_chars().cast(pl.Int64, strict=False)


def _text(column: str) -> pl.Expr:
    value = pl.col(column).str.strip_chars()
    return pl.when(value == "").then(None).otherwise(value)


def _date(column: str) -> pl.Expr:
    """Open Dental writes `0001-01-01` (or MySQL's `0000-00-00`) for "no date"."""
    value = _text(column)
    none = value.str.starts_with("0001-01-01") | value.str.starts_with("0000-00-00")
    return pl.when(none).then(None).otherwise(value)


def _with_time(day: pl.Expr) -> pl.Expr:
    """A procedure's date with its `ProcTime` (time of day) when the table carries one."""
    time = _text("ProcTime").str.replace(r"^(\d):", "0$1:")
    return pl.when(time.is_not_null() & day.str.contains(r"^\d{4}-\d{2}-\d{2}$")).then(
        pl.concat_str(day, pl.lit(" "), time)
    ).otherwise(day)


def _frame(tables: dict[str, pl.DataFrame], name: str) -> pl.DataFrame:
    """The table's rows with every contract column (blank when absent)."""
    spec = TABLES[name]
    frame = tables.get(name)
    if frame is None:
        frame = pl.DataFrame(
            schema={**{c: pl.String for c in spec.columns}, "_file": pl.String, "_line": pl.Int64}
        )
    missing = [c for c in spec.columns if c not in frame.columns]
    return frame.with_columns([pl.lit(None, dtype=pl.String).alias(c) for c in missing])


def _codes(catalogue: Catalogue) -> pl.DataFrame:
    """The catalogue's table-source codes (CDT, then CPT, then HCPCS for a code in several)."""
    rank = {system: i for i, system in enumerate(TABLE_SYSTEMS)}
    entries = sorted(
        (e for e in catalogue.entries.values() if e.system in rank), key=lambda e: rank[e.system]
    )
    seen: dict[str, tuple[str, float | None, str | None]] = {}
    for entry in entries:
        seen.setdefault(entry.code, (entry.category, entry.value, entry.description))
    return pl.DataFrame(
        {
            "ProcCode": list(seen),
            "_category": [v[0] for v in seen.values()],
            "_default_value": [v[1] for v in seen.values()],
            "_catalogue_description": [v[2] for v in seen.values()],
        },
        schema={
            "ProcCode": pl.String,
            "_category": pl.String,
            "_default_value": pl.Float64,
            "_catalogue_description": pl.String,
        },
    )


def _procedures(tables: dict[str, pl.DataFrame], catalogue: Catalogue) -> pl.DataFrame:
    """Every procedurelog row with its code, category (null = not in the catalogue) and value."""
    codes = _frame(tables, "procedurecode").select(
        CodeNum=_text("CodeNum"), ProcCode=_text("ProcCode"), Descript=_text("Descript")
    ).unique("CodeNum", keep="first")
    logs = _frame(tables, "procedurelog")
    fee = _text("ProcFee")
    fee_number = fee.cast(pl.Float64, strict=False)
    units = _int("UnitQty")
    units = pl.when(units.is_null() | (units <= 0)).then(1).otherwise(units)
    return (
        logs.with_columns(
            _code_num=_text("CodeNum"),
            _status=_int("ProcStatus"),
            _fee=fee,
            _fee_number=fee_number,
            _units=units,
            _completed=_with_time(pl.coalesce(_date("DateComplete"), _date("ProcDate"))),
        )
        .join(codes, left_on="_code_num", right_on="CodeNum", how="left", maintain_order="left")
        .join(_codes(catalogue), on="ProcCode", how="left", maintain_order="left")
        .with_columns(
            _value=pl.when(pl.col("_fee").is_null())
            .then(pl.col("_default_value"))
            .otherwise(pl.col("_fee_number") * pl.col("_units")),
        )
    )


def _value_text(value: pl.Expr, raw_fee: pl.Expr) -> pl.Expr:
    """Values as text; an unreadable fee passes through so validation quarantines it."""
    as_text = (
        pl.when(value == value.round(0))
        .then(value.cast(pl.Int64, strict=False).cast(pl.String))
        .otherwise(value.cast(pl.String))
    )
    return pl.when(value.is_null() & raw_fee.is_not_null()).then(raw_fee).otherwise(as_text)


def _provenance(practice: str) -> dict[str, pl.Expr]:
    return {
        "practice_slug": pl.lit(practice),
        "_file": pl.col("_file"),
        "_source_file": pl.concat_str(pl.lit(f"{practice}/"), pl.col("_file")),
        "_line": pl.col("_line").cast(pl.Int64),
    }


def _people(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Patient rows with their contact details and consent under Loopdesk's rules."""
    optouts = _frame(tables, "commoptout").select(
        PatNum=_text("PatNum"),
        _opt_sms=_int("OptOutSms").fill_null(0),
        _opt_email=_int("OptOutEmail").fill_null(0),
    ).unique("PatNum", keep="last")
    contact = _int("PreferContactMethod").fill_null(0)
    recall = _int("PreferRecallMethod").fill_null(0)
    phones = {
        _HOME: strip_extension_expr(_text("HmPhone")),
        _WORK: strip_extension_expr(_text("WkPhone")),
        _WIRELESS: strip_extension_expr(_text("WirelessPhone")),
    }
    preferred = (
        pl.when(contact == _HOME)
        .then(phones[_HOME])
        .when(contact == _WORK)
        .then(phones[_WORK])
        .when(contact == _WIRELESS)
        .then(phones[_WIRELESS])
    )
    status = _int("PatStatus").fill_null(0)
    # Deleted records stay loaded (a drop never deletes rows) but are never contacted.
    do_not_contact = status.is_in([_DECEASED, _DELETED]) | (contact == _DO_NOT_CALL)
    chose_email = (contact == _EMAIL) | (recall == _EMAIL)
    return (
        _frame(tables, "patient")
        .with_columns(PatNum=_text("PatNum"))
        .join(optouts, on="PatNum", how="left", maintain_order="left")
        .with_columns(
            _status=status,
            _first=pl.coalesce(_text("Preferred"), _text("FName")),
            _last=_text("LName"),
            _phone=pl.coalesce(
                preferred, phones[_WIRELESS], phones[_HOME], phones[_WORK]
            ).replace("", None),
            _email=_text("Email"),
            # Consent defaults (docs/data-contract.md): calls allowed unless the patient said
            # DoNotCall; texts only with TxtMsgOk = 1; email only when chosen as the method.
            _call=~do_not_contact & (recall != _DO_NOT_CALL),
            _sms=(_int("TxtMsgOk").fill_null(0) == 1) & (pl.col("_opt_sms").fill_null(0) == 0),
            _mail=chose_email & (pl.col("_opt_email").fill_null(0) == 0),
            _dnc=do_not_contact,
            _updated=_date("DateTStamp"),
        )
    )


def _flag(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr).then(pl.lit("true")).otherwise(pl.lit("false"))


def map_tables(
    practice: str, tables: dict[str, pl.DataFrame], catalogue: Catalogue, read: SourceRead
) -> None:
    """Fill `read` with the canonical rows and filtered counts of one practice's tables."""
    procedures = _procedures(tables, catalogue)
    people = _people(tables)
    completed = procedures.filter(
        (pl.col("_status") == _COMPLETE) & pl.col("_category").is_not_null()
    )
    treated_patients = completed.select(PatNum=_text("PatNum")).unique()
    is_patient = (pl.col("_status") != _PROSPECTIVE) | pl.col("PatNum").is_in(
        treated_patients["PatNum"].implode()
    )
    patients = people.filter(is_patient).select(
        patient_id=pl.col("PatNum"),
        first_name=pl.col("_first"),
        last_name=pl.col("_last"),
        phone=pl.col("_phone"),
        email=pl.col("_email"),
        consent_call=_flag(pl.col("_call")),
        consent_text=_flag(pl.col("_sms")),
        consent_email=_flag(pl.col("_mail")),
        do_not_contact=_flag(pl.col("_dnc")),
        satisfaction_score=pl.lit(None, dtype=pl.String),
        updated_at=pl.col("_updated"),
        **_provenance(practice),
    )
    _count(read, people.filter(~is_patient))

    complete = pl.col("_status") == _COMPLETE
    unknown_code = complete & pl.col("ProcCode").is_null()
    loadable = complete & pl.col("_category").is_not_null()
    _quarantine_unknown_codes(practice, procedures.filter(unknown_code), read)
    treatments = procedures.filter(loadable).select(
        treatment_id=_text("ProcNum"),
        patient_id=_text("PatNum"),
        treatment_code=pl.col("ProcCode"),
        category=pl.col("_category"),
        description=pl.coalesce(pl.col("Descript"), pl.col("_catalogue_description")),
        value=_value_text(pl.col("_value"), pl.col("_fee")),
        completed_at=pl.col("_completed"),
        results_visible_at=pl.lit(None, dtype=pl.String),
        **_provenance(practice),
    )
    _count(read, procedures.filter(~loadable & ~unknown_code))
    leads = _leads(practice, tables, people, procedures, read)
    read.rows = {PATIENTS.name: patients, TREATMENTS.name: treatments, REFERRALS.name: leads}
    for name in ("procedurecode", "referral", "commoptout"):
        _count(read, _frame(tables, name))  # lookups: read to enrich other rows, not loaded


def _leads(
    practice: str,
    tables: dict[str, pl.DataFrame],
    people: pl.DataFrame,
    procedures: pl.DataFrame,
    read: SourceRead,
) -> pl.DataFrame:
    """A referred friend attached `RefType = 1` to a referral is a lead of its referrer."""
    attach = _frame(tables, "refattach")
    is_lead = _int("RefType") == _REFERRED_FROM
    _count(read, attach.filter(~is_lead.fill_null(False)))
    # A doctor or a non-person source (an ad, a website) is never a patient referrer.
    not_patient = (_int("NotPerson").fill_null(0) != 0) | (_int("IsDoctor").fill_null(0) != 0)
    referrals = _frame(tables, "referral").select(
        ReferralNum=_text("ReferralNum"),
        _referrer=pl.when(not_patient).then(None).otherwise(_text("PatNum")),
    ).unique("ReferralNum", keep="first")
    friend_procedures = procedures.filter(pl.col("_category").is_not_null()).with_columns(
        PatNum=_text("PatNum")
    )
    planned = (
        friend_procedures.filter(pl.col("_status") == _TREATMENT_PLANNED)
        .group_by("PatNum")
        .agg(_planned_value=pl.col("_value").sum())
    )
    friends = people.select(
        PatNum=pl.col("PatNum"),
        _first=pl.col("_first"),
        _last=pl.col("_last"),
        _phone=pl.col("_phone"),
        _email=pl.col("_email"),
    ).unique("PatNum", keep="first")
    leads = attach.filter(is_lead.fill_null(False)).with_columns(
        ReferralNum=_text("ReferralNum"), PatNum=_text("PatNum"), _ref_date=_date("RefDate")
    )
    # Treated = a completed catalogue procedure of the friend on or after the referral date
    # (treatments before it were not brought by the referral). ISO text compares as dates.
    done = (
        leads.select("RefAttachNum", "PatNum", "_ref_date")
        .join(
            friend_procedures.filter(pl.col("_status") == _COMPLETE).select(
                "PatNum", "_completed", "_value"
            ),
            on="PatNum",
            how="inner",
        )
        .filter(pl.col("_completed").str.slice(0, 10) >= pl.col("_ref_date").str.slice(0, 10))
        .group_by("RefAttachNum")
        .agg(_done_at=pl.col("_completed").min(), _done_value=pl.col("_value").sum())
    )
    frame = (
        leads.join(referrals, on="ReferralNum", how="left", maintain_order="left")
        .join(friends, on="PatNum", how="left", maintain_order="left")
        .join(done, on="RefAttachNum", how="left", maintain_order="left")
        .join(planned, on="PatNum", how="left", maintain_order="left")
    )
    referrer = pl.col("_referrer")
    by_status = _int("RefToStatus").fill_null(0).replace_strict(
        _REF_TO_STATUS, default="new", return_dtype=pl.String
    )
    treated_by_procedures = pl.col("_done_at").is_not_null()
    status = pl.when(treated_by_procedures).then(pl.lit("treated")).otherwise(by_status)
    booked = pl.when(treated_by_procedures).then(pl.col("_done_value")).otherwise(
        pl.when(status.is_in(["booked", "treated"])).then(pl.col("_planned_value"))
    )
    return frame.select(
        lead_id=_text("RefAttachNum"),
        # A referral whose referrer is not one of the practice's patients: unknown source.
        referrer_patient_id=pl.when(referrer.is_null() | (referrer == "0"))
        .then(None)
        .otherwise(referrer),
        lead_first_name=pl.col("_first"),
        lead_last_name=pl.col("_last"),
        lead_phone=pl.col("_phone"),
        lead_email=pl.col("_email"),
        # RefDate has no time of day: it stays a date (the practice's local midnight). None is
        # borrowed from DateTStamp, the row's last edit: its time would move the referral (its
        # SLA deadline, its cohort window) whenever the row is edited again.
        referred_at=_date("RefDate"),
        status=status,
        status_at=pl.when(treated_by_procedures)
        .then(pl.col("_done_at"))
        .when(status != "new")
        .then(_date("DateTStamp")),
        booked_value=_value_text(booked, pl.lit(None, dtype=pl.String)),
        became_patient_id=pl.when(status == "treated").then(pl.col("PatNum")),
        **_provenance(practice),
    )


def _quarantine_unknown_codes(practice: str, rows: pl.DataFrame, read: SourceRead) -> None:
    """A completed procedure whose CodeNum is not in procedurecode cannot be classified."""
    if rows.is_empty():
        return
    spec = TABLES["procedurelog"]
    bad = rows.select(
        practice_slug=pl.lit(practice),
        file=pl.col("_file"),
        line=pl.col("_line").cast(pl.Int32),
        column=pl.lit("CodeNum"),
        reason=pl.lit("CodeNum not in procedurecode"),
        raw_record=pl.concat_str([pl.col(c).fill_null("") for c in spec.columns], separator=","),
    )
    read.quarantined = pl.concat([read.quarantined, bad], how="vertical_relaxed")


def _count(read: SourceRead, rows: pl.DataFrame) -> None:
    for (file,), group in rows.group_by(["_file"]):
        read.filtered[str(file)] = read.filtered.get(str(file), 0) + group.height


def read_opendental_csv(
    folder: Path, practice: str, catalogue: Catalogue, *, max_file_bytes: int
) -> SourceRead:
    """Read one practice folder of Open Dental table CSVs."""
    read = SourceRead(practice=practice, format="opendental")
    checks: dict[str, FileCheck] = {}
    for name, spec in TABLES.items():
        path = folder / spec.name
        if path.is_file():
            checks[name] = check_file(path, spec, practice, max_file_bytes)
            read.files.append(spec.name)
    for check in checks.values():
        if not check.loadable:
            read.problems.append((check.status, check.spec.name, check.message or check.status))
        elif check.message:
            read.notes.append(f"{check.spec.name}: {check.message}")
    missing = [TABLES[name].name for name in MAIN_TABLES if name not in checks]
    if missing:
        read.problems.append(
            ("paused", "-", f"Open Dental tables missing: {', '.join(missing)}")
        )
    if read.problems:
        return read
    tables: dict[str, pl.DataFrame] = {}
    for name, check in checks.items():
        extracted = extract([check], TABLES[name])
        if extracted.failed:
            read.problems.append(("error", check.spec.name, next(iter(extracted.failed.values()))))
            continue
        tables[name] = extracted.rows
    if read.problems:
        return read
    map_tables(practice, tables, catalogue, read)
    return read

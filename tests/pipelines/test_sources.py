"""FHIR NDJSON and Open Dental table CSVs with literal rows: every quirk and bad-input kind."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest import ingest
from warehouse.paths import raw_db_path

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO.parent / "shared" / "samples" / "fhir-bulk-10-patients"
HEADER = "practice_slug,name,specialty,timezone,contracted_hours_per_week"


def _drop(root: Path, practices: dict[str, dict[str, str]], formats: dict[str, str] | None = None
          ) -> Path:
    """practices.csv for `practices` (slug -> {file name: text}) and their folders."""
    drop = root / "drop"
    drop.mkdir()
    lines = [HEADER + (",source_format" if formats else "")]
    for slug in practices:
        row = f"{slug},{slug.title()},dental_implants,America/Chicago,10"
        lines.append(row + (f",{(formats or {}).get(slug, '')}" if formats else ""))
    (drop / "practices.csv").write_text("\n".join(lines) + "\n")
    for slug, files in practices.items():
        (drop / slug).mkdir()
        for name, text in files.items():
            (drop / slug / name).write_text(text)
    return drop


def _raw(sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(raw_db_path()), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def _balanced(summary: dict) -> None:  # type: ignore[type-arg]
    levels = [summary, *summary["practices"].values(), *summary["files"]]
    for level in levels:
        parts = ("inserted", "updated", "unchanged", "quarantined", "filtered")
        assert level["rows_in"] == sum(level[k] for k in parts)


def _ndjson(*resources: object) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in resources)


PATIENT = {
    "resourceType": "Patient", "id": "pat-1", "meta": {"lastUpdated": "2026-10-01T10:00:00Z"},
    "name": [{"use": "official", "family": "Rivera", "given": ["Ana"]}],
    "telecom": [
        {"system": "phone", "value": "(312) 555-0100", "use": "home", "rank": 2},
        {"system": "phone", "value": "312.555.0142 ext 4", "use": "mobile", "rank": 1},
        {"system": "email", "value": "Ana.Rivera@Example.COM"},
    ],
}
IMPLANT = {
    "resourceType": "Procedure", "id": "proc-1", "status": "completed",
    "code": {"coding": [{"system": "http://www.ada.org/cdt", "code": "D6010"}]},
    "subject": {"reference": "Patient/pat-1"}, "performedDateTime": "2026-09-01T15:00:00Z",
}


def test_fhir_bad_inputs_are_quarantined_with_file_line_and_reason(
    loopdesk_home: Path, tmp_path: Path
) -> None:
    dangling = {**IMPLANT, "id": "proc-2", "subject": {"reference": "Patient/ghost"}}
    unknown_code = {**IMPLANT, "id": "proc-3",
                    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "5880005"}]}}
    planned = {**IMPLANT, "id": "proc-4", "status": "preparation"}
    drop = _drop(tmp_path, {"fhir-clinic": {
        "Patient.000.ndjson": _ndjson(PATIENT, "{not json", {"id": "x"},
                                      {"resourceType": "Observation", "id": "o1"}),
        "Procedure.000.ndjson": _ndjson(IMPLANT, dangling, unknown_code, planned),
        "Observation.000.ndjson": _ndjson({"resourceType": "Observation", "id": "o2"}),
    }})
    summary = ingest(drop).to_json()
    _balanced(summary)
    practice = summary["practices"]["fhir-clinic"]
    assert practice["format"] == "fhir" and practice["status"] == "ok"
    assert "ignored resource types: 1 Observation" in practice["message"]
    assert practice["inserted"] == 2 and practice["quarantined"] == 4
    assert practice["filtered"] == 3  # unknown code, not completed, the Observation line
    rows = sorted(_raw('select file, line, "column", reason from quarantine'))
    assert rows == [
        ("Patient.000.ndjson", 2, None, "not valid JSON"),
        ("Patient.000.ndjson", 3, "resourceType", "not a FHIR resource (no resourceType)"),
        ("Patient.000.ndjson", 4, "resourceType", "resourceType Observation in a Patient file"),
        ("Procedure.000.ndjson", 2, "patient_id",
         "unknown patient (not in this drop's patients nor loaded before)"),
    ]
    (patient,) = _raw("select phone, email, consent_call, consent_text, consent_email, "
                      "do_not_contact from raw_patients")
    # The rank-1 mobile wins, its extension dropped; email lower-cased; consent defaults.
    assert patient == ("+13125550142", "ana.rivera@example.com", True, False, False, False)
    (treatment,) = _raw("select treatment_id, category, value from raw_treatments")
    assert treatment == ("proc-1", "implant", 2500.0)  # the catalogue's default value


def test_fhir_consent_claim_value_and_deceased(loopdesk_home: Path, tmp_path: Path) -> None:
    deceased = {**PATIENT, "id": "pat-2", "deceasedDateTime": "2026-01-01"}
    retired = {**PATIENT, "id": "pat-3", "active": False}
    consent = {
        "resourceType": "Consent", "id": "c1", "status": "active",
        "patient": {"reference": "Patient/pat-1"}, "dateTime": "2026-09-01",
        "provision": {"type": "permit", "provision": [
            {"type": "permit", "action": [{"coding": [{"code": "sms"}]}]},
            {"type": "deny", "action": [{"coding": [{"code": "call"}]}]},
        ]},
    }
    claim = {
        "resourceType": "Claim", "id": "cl1", "status": "active",
        "procedure": [{"sequence": 1, "procedureReference": {"reference": "Procedure/proc-1"}}],
        "item": [{"sequence": 1, "procedureSequence": [1],
                  "productOrService": {"coding": [{"code": "D6010"}]},
                  "net": {"value": 4100.5, "currency": "USD"}}],
    }
    drop = _drop(tmp_path, {"fhir-clinic": {
        "Patient.ndjson": _ndjson(PATIENT, deceased, retired),
        "Procedure.ndjson": _ndjson(IMPLANT),
        "Consent.ndjson": _ndjson(consent),
        "Claim.ndjson": _ndjson(claim),
    }})
    _balanced(ingest(drop).to_json())
    patients = dict((r[0], r[1:]) for r in _raw(
        "select patient_id, consent_call, consent_text, consent_email, do_not_contact "
        "from raw_patients"))
    # A base `permit` covers every channel; the nested provisions override call and text.
    assert patients["pat-1"] == (False, True, True, False)
    assert patients["pat-2"] == (True, False, False, True)  # deceased: never contacted
    assert patients["pat-3"][3] is True  # active = false: a record no longer in use
    assert _raw("select value from raw_treatments") == [(4100.5,)]


def _sample() -> Path:
    if not SAMPLE.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the FHIR sample is missing under CI: {SAMPLE}")
        pytest.skip(f"no FHIR sample at {SAMPLE}")
    return SAMPLE


def test_the_shipped_fhir_sample_ingests_and_deceased_are_never_called(
    loopdesk_home: Path, tmp_path: Path
) -> None:
    from console.lifecycle.build import build_everything
    from tests.worlds import FIXED_NOW

    drop = _drop(tmp_path, {})
    shutil.copytree(_sample(), drop / "synthea-clinic")
    (drop / "practices.csv").write_text(
        HEADER + "\nsynthea-clinic,Synthea Clinic,plastic_surgery,America/Chicago,10\n")
    # The sample's procedures are primary care: map two of its SNOMED codes so asks exist.
    (drop / "synthea-clinic" / "catalogue.csv").write_text(
        "system,code,category,value\n"
        "http://snomed.info/sct,288086009,surgical_body,3000\n"
        "http://snomed.info/sct,73761001,surgical_body,2000\n")
    summary = ingest(drop).to_json()
    _balanced(summary)
    lines = sum(
        1 for f in (drop / "synthea-clinic").glob("*.ndjson") for line in f.open() if line.strip()
    )
    practice = summary["practices"]["synthea-clinic"]
    assert practice["rows_in"] == lines == 3515
    assert practice["status"] == "ok" and practice["format"] == "fhir"
    phones = _raw("select phone, email from raw_patients")
    assert len(phones) == 12  # one of 13 has 555-199-…, not a dialable US number: quarantined
    assert all(p.startswith("+1") and len(p) == 12 for p, _ in phones)
    reasons = _raw("select file, reason from quarantine group by all order by 1")
    # That patient, and so its mapped procedures, are quarantined.
    assert reasons == [
        ("Patient.000.ndjson", "malformed phone number"),
        ("Procedure.000.ndjson", "unknown patient (not in this drop's patients nor loaded before)"),
    ]
    deceased = {r[0] for r in _raw("select patient_id from raw_patients where do_not_contact")}
    assert len(deceased) == 3
    build_everything(now=__import__("datetime").datetime.fromisoformat(FIXED_NOW))
    import sqlite3

    with sqlite3.connect(loopdesk_home / "loopdesk.db") as conn:
        called = {r[0] for r in conn.execute("select subject_id from tasks")}
    assert not called & deceased


OD_PATIENTS = (
    "PatNum,LName,FName,Preferred,PatStatus,HmPhone,WkPhone,WirelessPhone,Email,TxtMsgOk,"
    "PreferContactMethod,PreferRecallMethod,DateTStamp\n"
    "1,Stone,Riley,,0,,,(312)555-0142,riley@example.com,1,5,0,2026-10-01 10:00:00\n"
    "2,Park,Jo,,0,312.555.0143 ext 4,,,,0,0,0,0001-01-01 00:00:00\n"
    "3,Gone,Sam,,5,,,3125550144,,1,0,0,2026-10-01 10:00:00\n"
    "4,Quiet,Lee,,0,,,3125550145,,1,1,0,2026-10-01 10:00:00\n"
    "5,Friend,Max,,6,,,3125550146,,0,0,0,2026-10-02 10:00:00\n"
    "6,Erased,Kim,,4,,,3125550147,,0,0,0,2026-10-02 10:00:00\n"
)
OD_PROCEDURES = (
    "ProcNum,PatNum,CodeNum,ProcFee,UnitQty,ProcDate,ProcStatus,DateComplete,DateTStamp\n"
    "10,1,1,1500,2,2026-09-01,2,0001-01-01,2026-09-01 12:00:00\n"
    "11,2,2,900,1,2026-09-02,2,2026-09-03,2026-09-03 12:00:00\n"
    "12,2,3,80,1,2026-09-02,2,2026-09-02,2026-09-02 12:00:00\n"
    "13,1,1,1500,1,2026-09-05,1,0000-00-00,2026-09-05 12:00:00\n"
    "14,4,99,100,1,2026-09-05,2,2026-09-05,2026-09-05 12:00:00\n"
)
OD_CODES = "CodeNum,ProcCode,Descript\n1,D6010,Implant body\n2,D8090,Ortho adult\n3,D1110,Prophy\n"
OD_REFERRALS = (
    "ReferralNum,PatNum,LName,FName,NotPerson,IsDoctor\n1,1,,,0,0\n2,0,Ads,,1,0\n"
    "3,4,Smith,Dr,0,1\n"
)
OD_ATTACH = (
    "RefAttachNum,ReferralNum,PatNum,RefDate,RefType,RefToStatus,DateTStamp\n"
    "100,1,5,2026-10-02,1,2,2026-10-05 09:00:00\n"
    "101,2,2,2026-08-20,1,0,2026-08-20 14:30:00\n"
    "102,1,3,2026-08-01,0,0,2026-08-01 10:00:00\n"
    "103,3,1,2026-09-10,1,0,2026-09-10 16:00:00\n"
)


def _od_files() -> dict[str, str]:
    return {"patient.csv": OD_PATIENTS, "procedurelog.csv": OD_PROCEDURES,
            "procedurecode.csv": OD_CODES, "referral.csv": OD_REFERRALS,
            "refattach.csv": OD_ATTACH}


def test_opendental_quirks(loopdesk_home: Path, tmp_path: Path) -> None:
    drop = _drop(tmp_path, {"od-dental": _od_files()})
    summary = ingest(drop).to_json()
    _balanced(summary)
    practice = summary["practices"]["od-dental"]
    assert practice["format"] == "opendental" and practice["status"] == "ok"
    patients = {r[0]: r[1:] for r in _raw(
        "select patient_id, phone, consent_call, consent_text, consent_email, do_not_contact, "
        "updated_at from raw_patients")}
    # Prospective (5, no treatment) is not a patient; Deleted (6) stays, never contacted.
    assert sorted(patients) == ["1", "2", "3", "4", "6"]
    assert patients["6"][4] is True
    assert patients["1"][:5] == ("+13125550142", True, True, True, False)
    # Only HmPhone, typed with an extension; 0001-01-01 = no date; no consent recorded.
    assert patients["2"] == ("+13125550143", True, False, False, False, None)
    assert patients["3"][4] is True  # deceased
    assert patients["4"][1:5] == (False, True, False, True)  # DoNotCall: never contacted
    treatments = {r[0]: r[1:] for r in _raw(
        "select treatment_id, category, value, strftime(completed_at at time zone "
        "'America/Chicago', '%Y-%m-%d') from raw_treatments")}
    # ProcFee × UnitQty; DateComplete 0001-01-01 falls back to ProcDate; D1110 is filtered;
    # the planned 13 is no treatment.
    assert treatments == {"10": ("implant", 3000.0, "2026-09-01"),
                          "11": ("orthodontic", 900.0, "2026-09-03")}
    quarantined = _raw('select file, line, "column", reason from quarantine')
    assert quarantined == [("procedurelog.csv", 6, "CodeNum", "CodeNum not in procedurecode")]
    leads = {r[0]: r[1:] for r in _raw(
        "select lead_id, referrer_patient_id, lead_first_name, lead_phone, status, booked_value, "
        "became_patient_id from raw_referrals")}
    # 100: the prospective friend of patient 1, Scheduled, with the planned case's value.
    assert leads["100"] == ("1", "Max", "+13125550146", "booked", None, None)
    # 101: the referrer is not a patient (NotPerson): unknown source; friend 2 has treatments.
    assert leads["101"] == (None, "Jo", "+13125550143", "treated", 900.0, "2")
    assert "102" not in leads  # RefType 0 (referred to), not a lead
    # 103: a doctor's referral (IsDoctor), though its PatNum is set: unknown source; Riley's
    # implant was before the referral, so it does not make the lead treated.
    assert leads["103"][:2] == (None, "Riley") and leads["103"][3] == "new"
    files = {f["file"]: f for f in summary["files"]}
    assert files["patient.csv"]["filtered"] == 1
    assert files["procedurelog.csv"]["filtered"] == 2
    assert files["refattach.csv"]["filtered"] == 1


def test_practice_catalogue_overrides_and_extends(loopdesk_home: Path, tmp_path: Path) -> None:
    files = _od_files()
    files["catalogue.csv"] = "system,code,category,value\nCDT,D1110,whitening,120\n" \
                             "CDT,D6010,implant,4000\nCDT,D2,not_a_category,1\n"
    drop = _drop(tmp_path, {"od-dental": files})
    summary = ingest(drop).to_json()
    assert "catalogue.csv line 4: unknown category; skipped" in \
        summary["practices"]["od-dental"]["message"]
    assert dict(_raw("select treatment_id, category from raw_treatments"))["12"] == "whitening"


def test_mixed_drop_loads_healthy_practices_and_pauses_the_broken_one(
    loopdesk_home: Path, tmp_path: Path
) -> None:
    canonical = {
        "patients.csv": "patient_id,first_name,last_name,phone,email,consent_call,consent_text,"
        "consent_email,do_not_contact,satisfaction_score,updated_at\n"
        "P1,Ana,Lee,3125550100,,true,false,false,false,9,2026-10-01\n",
    }
    broken_od = {k: v for k, v in _od_files().items() if k != "procedurecode.csv"}
    both = {"patients.csv": canonical["patients.csv"], "Patient.ndjson": _ndjson(PATIENT)}
    drop = _drop(tmp_path, {
        "canon-clinic": canonical,
        "fhir-clinic": {"Patient.000.ndjson": _ndjson(PATIENT), "Procedure.000.ndjson":
                        _ndjson(IMPLANT)},
        "od-broken": broken_od,
        "two-formats": both,
        "spreadsheet": {"export.xlsx": "binary"},
    })
    summary = ingest(drop).to_json()
    _balanced(summary)
    result = summary["practices"]
    assert {s: result[s]["status"] for s in result} == {
        "canon-clinic": "ok", "fhir-clinic": "ok", "od-broken": "paused",
        "two-formats": "paused", "spreadsheet": "paused"}
    assert {s: result[s]["format"] for s in result} == {
        "canon-clinic": "canonical", "fhir-clinic": "fhir", "od-broken": "opendental",
        "two-formats": None, "spreadsheet": None}
    assert "Open Dental tables missing: procedurecode.csv" in result["od-broken"]["message"]
    assert "more than one format: canonical (patients.csv); fhir (Patient.ndjson)" in \
        result["two-formats"]["message"]
    assert "no files of a known format (found export.xlsx)" in result["spreadsheet"]["message"]
    assert _raw("select practice_slug, count(*) from raw_patients group by all order by 1") == [
        ("canon-clinic", 1), ("fhir-clinic", 1)]


def test_source_format_column_overrides_detection(loopdesk_home: Path, tmp_path: Path) -> None:
    both = {"patients.csv": "patient_id\n", "Patient.ndjson": _ndjson(PATIENT)}
    drop = _drop(tmp_path, {"two-formats": both}, formats={"two-formats": "fhir"})
    summary = ingest(drop).to_json()
    assert summary["practices"]["two-formats"]["format"] == "fhir"
    assert summary["practices"]["two-formats"]["status"] == "ok"
    assert _raw("select patient_id from raw_patients") == [("pat-1",)]
    assert _raw("select source_format from raw_practices") == [("fhir",)]


def test_cli_generate_format_then_ingest(loopdesk_home: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from console.cli import app

    runner = CliRunner()
    for fmt in ("fhir", "opendental"):
        out = tmp_path / fmt
        made = runner.invoke(app, ["generate", "--practices", "2", "--months", "2", "--seed", "3",
                                   "--format", fmt, "--out", str(out)])
        assert made.exit_code == 0, made.output
        loaded = runner.invoke(app, ["ingest", str(out), "--json"])
        assert loaded.exit_code == 0, loaded.output
        summary = json.loads(loaded.stdout)
        _balanced(summary)
        assert {p["format"] for p in summary["practices"].values()} == {fmt}
    bad = runner.invoke(app, ["generate", "--format", "hl7", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0


def test_each_source_stages_in_its_own_models_and_meets_in_the_marts(
    loopdesk_home: Path, tmp_path: Path
) -> None:
    from warehouse.snapshot import publish_snapshot, reading_snapshot

    canonical = {
        "patients.csv": "patient_id,first_name,last_name,phone,email,consent_call,consent_text,"
        "consent_email,do_not_contact,satisfaction_score,updated_at\n"
        "P1,Ana,Lee,3125550100,,true,false,false,false,9,2026-10-01\n",
    }
    drop = _drop(tmp_path, {
        "canon-clinic": canonical,
        "fhir-clinic": {"Patient.ndjson": _ndjson(PATIENT), "Procedure.ndjson": _ndjson(IMPLANT)},
        "od-dental": _od_files(),
    })
    ingest(drop)
    assert dict(_raw("select _source_format, count(*) from raw_patients group by all")) == {
        "canonical": 1, "fhir": 1, "opendental": 5}
    published = publish_snapshot(as_of=__import__("datetime").datetime.fromisoformat(
        "2026-11-26T15:00:00+00:00"))
    rows = {run.name: run.rows for run in published.models}
    assert rows["stg_canonical__patients"] == 1
    assert rows["stg_fhir__patients"] == 1 and rows["stg_fhir__procedures"] == 1
    assert rows["stg_opendental__patients"] == 5 and rows["stg_opendental__procedures"] == 2
    assert rows["stg_opendental__refattach"] == 3
    assert rows["int_patients"] == 7 and rows["int_treatments"] == 3
    with reading_snapshot() as conn:
        marts = dict(conn.execute(
            "select practice_slug, count(*) from mart_patients group by all").fetchall())
    assert marts == {"canon-clinic": 1, "fhir-clinic": 1, "od-dental": 5}


def test_unrecorded_text_and_email_consent_never_gets_a_message(
    loopdesk_home: Path, tmp_path: Path
) -> None:
    """Open Dental patients whose results are visible now: only the one with TxtMsgOk = 1 is
    texted, only the one who chose Email is emailed; the one with no consent recorded gets a
    call task and no message, and the deceased one neither."""
    from datetime import datetime

    from console.lifecycle.build import build_everything
    from console.outreach.automation import ask_targets
    from tests.worlds import FIXED_NOW
    from warehouse.snapshot import reading_snapshot

    patients = (
        "PatNum,LName,FName,PatStatus,HmPhone,WkPhone,WirelessPhone,Email,TxtMsgOk,"
        "PreferContactMethod,PreferRecallMethod,DateTStamp\n"
        "1,Text,Tia,0,,,3125550101,tia@example.com,1,0,0,2026-11-01 10:00:00\n"
        "2,Mail,Mo,0,,,3125550102,mo@example.com,0,5,0,2026-11-01 10:00:00\n"
        "3,Unknown,Uma,0,3125550103,,,uma@example.com,0,0,0,2026-11-01 10:00:00\n"
        "4,Gone,Gil,5,,,3125550104,gil@example.com,1,5,5,2026-11-01 10:00:00\n"
    )
    procedures = "ProcNum,PatNum,CodeNum,ProcFee,ProcDate,ProcStatus\n" + "".join(
        f"{n},{n},1,3000,2026-11-10,2\n" for n in range(1, 5))
    drop = _drop(tmp_path, {"od-dental": {
        "patient.csv": patients, "procedurelog.csv": procedures,
        "procedurecode.csv": "CodeNum,ProcCode\n1,D6010\n"}})
    _balanced(ingest(drop).to_json())
    now = datetime.fromisoformat(FIXED_NOW)
    build_everything(now=now)
    with reading_snapshot() as snapshot:
        targets = ask_targets(snapshot, now)
    channels = dict(zip(targets["patient_id"].to_list(), targets["channel"].to_list(),
                        strict=True))
    assert channels == {"1": "sms", "2": "email"}
    import sqlite3

    with sqlite3.connect(loopdesk_home / "loopdesk.db") as conn:
        asks = dict(conn.execute(
            "select subject_id, consent_call from tasks where kind = 'ask'").fetchall())
    assert asks.get("3") == 1  # a call to the number Uma gave is allowed
    assert "4" not in asks


def test_unreadable_folder_gets_one_feed_row(loopdesk_home: Path, tmp_path: Path) -> None:
    drop = _drop(tmp_path, {"spreadsheet": {"export.xlsx": "binary", "notes.txt": "x"}})
    summary = ingest(drop).to_json()
    (feed,) = [f for f in summary["files"] if f["practice"] == "spreadsheet"]
    assert feed["file"] == "(practice folder)" and feed["status"] == "paused"
    assert "found export.xlsx, notes.txt" in feed["message"]
    assert _raw("select file, status from feed_status where practice_slug = 'spreadsheet'") == [
        ("(practice folder)", "paused")]


def test_fhir_line_that_is_not_utf8_is_quarantined_alone(
    loopdesk_home: Path, tmp_path: Path
) -> None:
    drop = _drop(tmp_path, {"fhir-clinic": {}})
    (drop / "fhir-clinic" / "Patient.000.ndjson").write_bytes(
        b'{"resourceType":"Patient","id":"a\xff"}\n{"resourceType":"Patient","id":"ok"}\n'
        b'{"resourceType":"Patient","id":}\n'
    )
    summary = ingest(drop).to_json()
    _balanced(summary)
    assert _raw("select line, reason from quarantine order by line") == [
        (1, "not UTF-8 text"), (3, "not valid JSON")]
    assert _raw("select patient_id from raw_patients") == [("ok",)]


def test_binary_ndjson_file_is_an_error_and_keeps_previous_data(
    loopdesk_home: Path, tmp_path: Path
) -> None:
    drop = _drop(tmp_path, {"fhir-clinic": {"Patient.000.ndjson": _ndjson(PATIENT)}})
    ingest(drop)
    (drop / "fhir-clinic" / "Procedure.000.ndjson").write_bytes(b"\x00\x01garbage\n")
    summary = ingest(drop).to_json()
    practice = summary["practices"]["fhir-clinic"]
    assert practice["status"] == "error"
    assert "Procedure.000.ndjson: binary file (contains NUL bytes)" in practice["message"]
    assert practice["rows_in"] == 0
    assert _raw("select patient_id from raw_patients") == [("pat-1",)]

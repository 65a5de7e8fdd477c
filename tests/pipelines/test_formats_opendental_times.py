"""Open Dental's RefDate has no time of day: a lead's referred_at is the practice's local
midnight of RefDate, whatever refattach.DateTStamp (the row's last edit) says."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from pipelines.catalogue import shipped_catalogue
from pipelines.ingest import ingest
from pipelines.source_opendental import map_tables
from pipelines.sources import SourceRead
from warehouse.paths import raw_db_path

PATIENTS = (
    "PatNum,LName,FName,PatStatus,HmPhone,WkPhone,WirelessPhone,Email,DateTStamp\n"
    "1,Stone,Riley,0,,,3125550142,,2026-09-01 10:00:00\n"
    "5,Friend,Max,6,,,3125550146,,2026-10-02 14:30:00\n"
    "6,Friend,Ada,6,,,3125550147,,2026-10-02 09:00:00\n"
    "7,Friend,Ivo,6,,,3125550148,,2026-10-02 11:00:00\n"
)
PROCEDURES = "ProcNum,PatNum,CodeNum,ProcFee,ProcDate,ProcStatus\n10,1,1,1500,2026-09-01,2\n"
CODES = "CodeNum,ProcCode\n1,D6010\n"
REFERRALS = "ReferralNum,PatNum\n1,1\n"
# One referral date, three DateTStamps: the same day (a same-day status change), a later day
# (a status change a week on) and none (blank here; Open Dental's 0001-01-01 in the file test).
ATTACH = (
    "RefAttachNum,ReferralNum,PatNum,RefDate,RefType,RefToStatus,DateTStamp\n"
    "100,1,5,2026-10-02,1,3,2026-10-02 14:30:00\n"
    "101,1,6,2026-10-02,1,1,2026-10-09 16:45:00\n"
    "102,1,7,2026-10-02,1,0,\n"
)
TABLES = {"patient": PATIENTS, "procedurelog": PROCEDURES, "procedurecode": CODES,
          "referral": REFERRALS, "refattach": ATTACH}


def _frame(name: str, text: str) -> pl.DataFrame:
    lines = text.strip("\n").split("\n")
    header = lines[0].split(",")
    rows = [dict(zip(header, line.split(","), strict=True)) for line in lines[1:]]
    return pl.DataFrame(rows, schema=dict.fromkeys(header, pl.String)).with_columns(
        _file=pl.lit(f"{name}.csv"), _line=pl.int_range(2, len(rows) + 2, dtype=pl.Int64)
    )


def test_referred_at_is_refdate_whatever_datetstamp_says() -> None:
    read = SourceRead(practice="od-dental", format="opendental")
    tables = {name: _frame(name, text) for name, text in TABLES.items()}
    map_tables("od-dental", tables, shipped_catalogue(), read)
    leads = {
        row["lead_id"]: (row["referred_at"], row["status"], row["status_at"])
        for row in read.rows["referrals.csv"].iter_rows(named=True)
    }
    assert leads == {
        # DateTStamp on RefDate is not borrowed: it is when the row was last edited.
        "100": ("2026-10-02", "contacted", "2026-10-02 14:30:00"),
        # A later DateTStamp is the status time only.
        "101": ("2026-10-02", "declined", "2026-10-09 16:45:00"),
        # No DateTStamp: still RefDate; a new lead has no status time.
        "102": ("2026-10-02", "new", None),
    }


def test_refdate_loads_as_the_practices_local_midnight(loopdesk_home: Path, tmp_path: Path
                                                       ) -> None:
    drop = tmp_path / "drop"
    (drop / "od-dental").mkdir(parents=True)
    (drop / "practices.csv").write_text(
        "practice_slug,name,specialty,timezone,contracted_hours_per_week\n"
        "od-dental,OD Dental,dental_implants,America/Chicago,10\n"
    )
    for name, text in TABLES.items():
        (drop / "od-dental" / f"{name}.csv").write_text(text.replace(",\n", ",0001-01-01\n"))
    summary = ingest(drop).to_json()
    assert summary["quarantined"] == 0
    with duckdb.connect(str(raw_db_path()), read_only=True) as conn:
        loaded = dict(conn.execute("select lead_id, referred_at from raw_referrals").fetchall())
    # 2026-10-02 00:00 in Chicago (CDT, UTC-5), for all three.
    midnight = datetime(2026, 10, 2, 5, tzinfo=UTC)
    assert loaded == {"100": midnight, "101": midnight, "102": midnight}

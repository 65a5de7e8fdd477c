"""`loopdesk ingest --from-opendental`: an Open Dental-shaped schema in the local MariaDB.

Under CI=true MariaDB must be up (the Makefile starts it); elsewhere the tests skip when it
is not. Each run works in its own database (dropped afterwards), so parallel runs never meet.
"""

from __future__ import annotations

import csv
import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pymysql
import pytest
from typer.testing import CliRunner

from console.cli import app

HOST, PORT, USER = "127.0.0.1", 3306, "root"
runner = CliRunner()

SCHEMA = {
    "patient": """PatNum bigint PRIMARY KEY, LName varchar(100), FName varchar(100),
        Preferred varchar(100), PatStatus tinyint NOT NULL DEFAULT 0, HmPhone varchar(30),
        WkPhone varchar(30), WirelessPhone varchar(30), Email varchar(100),
        TxtMsgOk tinyint NOT NULL DEFAULT 0, PreferContactMethod tinyint NOT NULL DEFAULT 0,
        PreferRecallMethod tinyint NOT NULL DEFAULT 0, Birthdate date,
        DateTStamp timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP""",
    "procedurelog": """ProcNum bigint PRIMARY KEY, PatNum bigint NOT NULL, CodeNum bigint,
        ProcFee double, UnitQty int NOT NULL DEFAULT 1, ProcDate date, ProcTime time,
        ProcStatus tinyint NOT NULL, DateComplete date,
        DateTStamp timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP""",
    "procedurecode": "CodeNum bigint PRIMARY KEY, ProcCode varchar(15), Descript varchar(255)",
    "referral": """ReferralNum bigint PRIMARY KEY, PatNum bigint NOT NULL DEFAULT 0,
        LName varchar(100), FName varchar(100), NotPerson tinyint, IsDoctor tinyint""",
    "refattach": """RefAttachNum bigint PRIMARY KEY, ReferralNum bigint, PatNum bigint,
        RefDate date, RefType tinyint, RefToStatus tinyint,
        DateTStamp timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP""",
}


def _connect(database: str | None = None):  # type: ignore[no-untyped-def]
    return pymysql.connect(host=HOST, port=PORT, user=USER, password="", database=database,
                           autocommit=True, connect_timeout=3)


@pytest.fixture
def od_database() -> Iterator[str]:
    try:
        admin = _connect()
    except pymysql.MySQLError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"MariaDB is not reachable on {HOST}:{PORT} under CI: {error}")
        pytest.skip(f"MariaDB is not reachable on {HOST}:{PORT}")
    name = f"loopdesk_od_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}`")
    try:
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def _load(database: str, source: Path) -> None:
    """Create the Open Dental tables and copy the generated table CSVs into them."""
    with _connect(database) as conn, conn.cursor() as cursor:
        for table, columns in SCHEMA.items():
            cursor.execute(f"CREATE TABLE `{table}` ({columns}) ENGINE=InnoDB")
            with (source / f"{table}.csv").open() as handle:
                rows = list(csv.DictReader(handle))
            if not rows:
                continue
            names = list(rows[0])
            placeholders = ", ".join(["%s"] * len(names))
            cursor.executemany(
                f"INSERT INTO `{table}` ({', '.join(names)}) VALUES ({placeholders})",
                [[(row[n] if row[n] != "" else None) for n in names] for row in rows],
            )


def _world(tmp: Path) -> tuple[Path, Path, str]:
    from pipelines.generate import generate_exports

    od = tmp / "od"
    generate_exports(od, practices=1, seed=11, months=9, dirty_share=0.0, format="opendental",
                     now=datetime(2026, 11, 26, 15, tzinfo=UTC))
    slug = next(p.name for p in od.iterdir() if p.is_dir())
    register = tmp / "register"
    register.mkdir()
    (register / "practices.csv").write_text((od / "practices.csv").read_text())
    return od / slug, register, slug


def _ingest(url: str, slug: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, ["ingest", "--from-opendental", url, "--practice", slug, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_live_read_then_incremental_read_updates_exactly_the_edited_rows(
    loopdesk_home: Path, tmp_path: Path, od_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipelines.opendental_live as live

    monkeypatch.setattr(live, "BATCH_ROWS", 37)  # many server-side batches per table
    folder, register, slug = _world(tmp_path)
    _load(od_database, folder)
    registered = runner.invoke(app, ["ingest", str(register), "--json"])
    assert registered.exit_code == 0, registered.output

    # No password in the URL: it comes from the setting (MariaDB's root has none here).
    monkeypatch.setenv("LOOPDESK_OPENDENTAL_PASSWORD", "")
    url = f"mysql://{USER}@{HOST}:{PORT}/{od_database}"
    first = _ingest(url, slug)
    practice = first["practices"][slug]
    assert practice["status"] == "ok" and practice["format"] == "opendental"
    assert practice["inserted"] > 200 and practice["quarantined"] == 0
    assert first["rows_in"] == sum(
        first[k] for k in ("inserted", "updated", "unchanged", "quarantined", "filtered")
    )

    # Edit three rows of patients and procedures that no lead depends on.
    with _connect(od_database) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT PatNum FROM refattach")
        friends = {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT PatNum FROM patient WHERE PatStatus = 0 ORDER BY PatNum")
        plain = [row[0] for row in cursor.fetchall() if row[0] not in friends]
        cursor.execute(
            "UPDATE patient SET WirelessPhone = '(312) 555-0142', HmPhone = NULL, "
            "DateTStamp = '2026-11-26 09:00:00' WHERE PatNum IN (%s, %s)", (plain[0], plain[1])
        )
        cursor.execute(
            "SELECT ProcNum FROM procedurelog WHERE ProcStatus = 2 AND PatNum NOT IN "
            f"({', '.join(str(f) for f in friends) or '0'}) ORDER BY ProcNum LIMIT 1"
        )
        (proc,) = cursor.fetchone()
        cursor.execute(
            "UPDATE procedurelog SET ProcFee = ProcFee + 100, DateTStamp = '2026-11-26 09:00:00' "
            "WHERE ProcNum = %s", (proc,)
        )
    second = _ingest(url, slug)
    assert second["inserted"] == 0
    assert second["updated"] == 3
    assert second["practices"][slug]["quarantined"] == 0
    # Incremental: far fewer rows than the first full read.
    assert second["rows_in"] < first["rows_in"] / 3
    third = _ingest(url, slug)
    assert third["updated"] == 0 and third["inserted"] == 0

    import duckdb

    from warehouse.paths import raw_db_path

    with duckdb.connect(str(raw_db_path()), read_only=True) as raw:
        phones = raw.execute(
            "select phone from raw_patients where patient_id in ($a, $b)",
            {"a": str(plain[0]), "b": str(plain[1])},
        ).fetchall()
        marks = dict(raw.execute(
            "select table_name, high_water from source_watermarks where practice_slug = $p",
            {"p": slug},
        ).fetchall())
    assert phones == [("+13125550142",), ("+13125550142",)]
    assert marks["patient"] == "2026-11-26 09:00:00"


def test_the_session_is_read_only(od_database: str, tmp_path: Path) -> None:
    from pipelines.opendental_live import _Reader, parse_url

    with _connect(od_database) as conn, conn.cursor() as cursor:
        cursor.execute("CREATE TABLE patient (PatNum bigint PRIMARY KEY)")
    reader = _Reader(parse_url(f"mysql://{USER}@{HOST}:{PORT}/{od_database}", None))
    try:
        with reader.connection.cursor() as cursor, pytest.raises(pymysql.MySQLError) as error:
            cursor.execute("INSERT INTO patient VALUES (1)")
        assert error.value.args[0] == 1792  # cannot execute statement in a READ ONLY transaction
    finally:
        reader.close()


def _main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
          *args: str) -> tuple[int, str]:
    """The real entry point: exit code and stderr."""
    import sys

    from console.cli import main

    monkeypatch.setattr(sys, "argv", ["loopdesk", *args])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main()
    return int(exit_info.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--from-opendental", "mysql://root@127.0.0.1:3306/x", "--practice", "nobody"],
         "practice 'nobody' is not registered"),
        (["--from-opendental", "postgres://root@127.0.0.1/x", "--practice", "p"],
         "mysql://user@host:3306/database"),
        (["--from-opendental", "mysql://root@127.0.0.1:3306/x"], "--practice"),
        (["some-drop", "--from-opendental", "mysql://root@h/x", "--practice", "p"], "not both"),
    ],
)
def test_live_read_user_errors(
    loopdesk_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    args: list[str], says: str,
) -> None:
    code, err = _main(monkeypatch, capsys, "ingest", *args)
    assert code == 2
    assert err.startswith("error: ") and says in err and err.count("\n") == 1
    assert "Traceback" not in err


def test_unreachable_database_is_a_user_error(
    loopdesk_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    register = tmp_path / "register"
    register.mkdir()
    (register / "practices.csv").write_text(
        "practice_slug,name,specialty,timezone,contracted_hours_per_week\n"
        "od-practice,OD Practice,dental_implants,America/Chicago,10\n"
    )
    assert runner.invoke(app, ["ingest", str(register)]).exit_code == 0
    code, err = _main(monkeypatch, capsys, "ingest", "--from-opendental",
                      "mysql://root:secret-pw@127.0.0.1:1/db", "--practice", "od-practice")
    assert code == 2
    assert "cannot connect to the Open Dental database at 127.0.0.1:1/db" in err
    assert "secret-pw" not in err

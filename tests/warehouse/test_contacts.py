"""The contact index file: the same answers as the snapshot query, whatever the addresses hold."""

from __future__ import annotations

import stat
from pathlib import Path

import duckdb

from warehouse.contacts import ContactIndex, contacts_query, write_index

# Slugs, ids and addresses with the file's separators, quotes, non-ASCII and a shared phone.
_PATIENTS = [
    ("a-practice", "P1", "+13125550001", "Ann@Example.org"),
    ("a-practice", "P2", "+13125550001", None),  # same phone, same practice
    ("b\tpractice", "P\n3", "+13125550001", '"odd\tlocal"@exämple.org'),
    ("b\tpractice", "P4", None, "ann@example.org"),  # same email (lower-cased) elsewhere
    ("c,practice", "P5", "+1312555", "x@y"),  # a phone that is a prefix of another
    ("c,practice", "P6", "", None),  # an empty address
]


def _snapshot() -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute(
        "create table mart_patients (practice_slug varchar, patient_id varchar, "
        "phone varchar, email varchar)"
    )
    conn.executemany("insert into mart_patients values (?, ?, ?, ?)", _PATIENTS)
    return conn


def test_index_answers_like_the_snapshot(tmp_path: Path) -> None:
    conn = _snapshot()
    target = tmp_path / "snapshot.contacts.idx"
    assert write_index(conn, target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # phones and emails
    expected = conn.execute(contacts_query("mart_patients")).fetchall()
    index = ContactIndex(target)
    try:
        assert sorted(index.rows()) == sorted(expected)
        probes = {(channel, address) for channel, address, _, _ in expected}
        probes |= {
            ("sms", "+1312"),
            ("sms", "+131255500012"),
            ("email", "ANN@EXAMPLE.ORG"),
            ("email", "+13125550001"),
            ("sms", "ann@example.org"),
            ("email", "zzz"),
        }
        for channel, address in sorted(probes):
            want = sorted((s, p) for c, a, s, p in expected if (c, a) == (channel, address))
            assert sorted(index.lookup(channel, address)) == want, (channel, address)
        assert sorted(index.lookup("sms", "+13125550001")) == [
            ("a-practice", "P1"),
            ("a-practice", "P2"),
            ("b\tpractice", "P\n3"),
        ]
    finally:
        index.close()


def test_an_index_without_patients_is_empty(tmp_path: Path) -> None:
    conn = _snapshot()
    conn.execute("delete from mart_patients")
    target = tmp_path / "empty.contacts.idx"
    assert write_index(conn, target)
    index = ContactIndex(target)
    try:
        assert list(index.rows()) == []
        assert list(index.lookup("sms", "+13125550001")) == []
    finally:
        index.close()
    assert not write_index(duckdb.connect(), tmp_path / "none.contacts.idx")  # no mart_patients

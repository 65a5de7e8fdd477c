"""The contact index file: the same answers as the snapshot query, whatever the addresses hold."""

from __future__ import annotations

import random
import stat
from pathlib import Path

import duckdb
import pytest

from warehouse.contacts import Bucket, ContactIndex, contacts_query, plan_buckets, write_index

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


@pytest.mark.parametrize("bucket_lines", [10**9, 3, 1])
def test_index_answers_like_the_snapshot(tmp_path: Path, bucket_lines: int) -> None:
    conn = _snapshot()
    target = tmp_path / "snapshot.contacts.idx"
    assert write_index(conn, target, bucket_lines=bucket_lines)
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


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")


def test_sorting_by_key_ranges_writes_the_same_file(tmp_path: Path) -> None:
    """An index sorted a key range at a time has the one-sort index's header and lines, in key
    order: SMS before email, non-ASCII addresses, shared addresses and bounds falling inside a
    run of equal keys included."""
    chooser = random.Random(7)
    alphabet = "ab+1é9Z\t'"
    rows = []
    for number in range(400):
        phone = None if number % 5 == 0 else "+1" + "".join(chooser.choices("0123456789", k=3))
        email = None if number % 7 == 0 else "".join(chooser.choices(alphabet, k=3)) + "@x"
        rows.append((f"practice-{number % 9}", f"P{number}", phone, email))
    conn = duckdb.connect()
    conn.execute(
        "create table mart_patients (practice_slug varchar, patient_id varchar, "
        "phone varchar, email varchar)"
    )
    conn.executemany("insert into mart_patients values (?, ?, ?, ?)", rows)
    whole, ranged = tmp_path / "whole.idx", tmp_path / "ranged.idx"
    assert write_index(conn, whole)
    assert write_index(conn, ranged, bucket_lines=50)
    one, many = _lines(whole), _lines(ranged)
    assert many[0] == one[0]  # the header
    assert sorted(many) == sorted(one)
    keys = [line.split(b"\t")[0] for line in many[1:] if line]
    assert keys == sorted(keys)
    index = ContactIndex(ranged)
    try:
        expected = conn.execute(contacts_query("mart_patients")).fetchall()
        for channel, address, _, _ in expected[:60]:
            want = sorted((s, p) for c, a, s, p in expected if (c, a) == (channel, address))
            assert sorted(index.lookup(channel, address)) == want
    finally:
        index.close()


def test_key_ranges_cut_at_the_sample_quantiles() -> None:
    sample = [("0", f"+1{n:03d}") for n in range(60)] + [("1", f"m{n:02d}") for n in range(40)]
    assert plan_buckets(sample, lines=100, bucket_lines=100) == [Bucket(None, None)]
    buckets = plan_buckets(sample, lines=100, bucket_lines=25)
    assert [b.low for b in buckets] == [None, ("0", "+1025"), ("0", "+1050"), ("1", "m15")]
    assert [b.high for b in buckets[:-1]] == [b.low for b in buckets[1:]]
    assert buckets[-1].high is None
    # A bucket spanning both channels keeps the SMS rows above its low bound and the email
    # rows below its high bound; the others keep one channel only.
    assert buckets[2].conditions() == ("address >= '+1050'", "address < 'm15'")
    assert buckets[0].conditions() == ("address < '+1025'", "false")
    assert buckets[3].conditions() == ("false", "address >= 'm15'")
    # Equal sampled keys give one bound, not empty ranges between copies of it.
    same = plan_buckets([("0", "+1")] * 10, lines=100, bucket_lines=10)
    assert [(b.low, b.high) for b in same] == [(None, ("0", "+1")), (("0", "+1"), None)]

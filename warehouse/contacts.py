"""The contact index published beside each snapshot: who has this phone or email address.

`loopdesk inbound` matches a reply's sender against the snapshot's patients. Opening the
DuckDB snapshot costs DuckDB's import (most of the command's start-up), so each build also
writes `snapshot-….contacts.idx` next to its snapshot, read with the standard library only
(mmap and a binary search). It holds phones and emails: written 0600, like the snapshot. A
snapshot without one (published by an older version, or restored from a backup) is read
directly.

The file is text, one line per (channel, address, practice, patient) of `mart_patients`, every
value in upper-case hex of its UTF-8 bytes so that no address can break the layout:

    #loopdesk-contacts <TAB> 1 <TAB> hex(slug 1),hex(slug 2),…        (the header)
    <channel digit: 0 SMS, 1 email><hex(address)> <TAB> <practice number> <TAB> hex(patient_id)

The lines after the header are sorted by their first field (bytes), which DuckDB computes,
sorts and hands over as one Arrow buffer per batch: no Python object per contact (through
SQLite the 3 M rows of 1,000 practices cost 5.6 CPU-s, most of a build's contact step).
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INDEX_SUFFIX = ".contacts.idx"
# The SQLite index earlier versions published: removed with its snapshot, never read (a
# snapshot that has only that is read directly, like one without an index).
LEGACY_SUFFIXES = (".contacts.sqlite",)
FORMAT_VERSION = 1
_MAGIC = b"#loopdesk-contacts"
_BATCH_ROWS = 200_000
_CHANNELS = {"sms": "0", "email": "1"}
# Lines per sort: the 1,000-practice world's 3.1 M lines stay one sort; bigger stores are
# sorted a key range of about this many lines at a time (docs/benchmarks.md, brief build).
BUCKET_LINES = 4_000_000
# Keys drawn to place the ranges' bounds.
_SAMPLE_ROWS = 100_000


def index_path(snapshot: Path) -> Path:
    """Where the contact index of `snapshot` lives (same folder, same stem)."""
    return snapshot.with_name(snapshot.name.removesuffix(".duckdb") + INDEX_SUFFIX)


def legacy_index_paths(snapshot: Path) -> list[Path]:
    """Where an older version put the contact index of `snapshot`."""
    stem = snapshot.name.removesuffix(".duckdb")
    return [snapshot.with_name(stem + suffix) for suffix in LEGACY_SUFFIXES]


def contacts_query(source: str, *, sms: str = "true", email: str = "true") -> str:
    """The index's rows (channel, address, practice_slug, patient_id) of a mart_patients-shaped
    `source` (a table name or a parenthesised select); `sms` and `email` are SQL conditions on
    `address` keeping some of each channel's rows."""
    # The same expressions as the lookup inbound used to run against the snapshot:
    # `phone = ?` for SMS and `lower(email) = ?` for email (DuckDB's lower, not Python's).
    # No `distinct`: a patient gives at most one row per channel, and (practice_slug,
    # patient_id) is unique in mart_patients (its key check passes before the index is
    # published), so the rows are distinct already (the hash of 3 M rows cost 1 CPU-s).
    return (
        "select channel, address, practice_slug, patient_id from ("
        " select * from (select 'sms' as channel, phone as address,"
        " cast(practice_slug as varchar) as practice_slug,"
        f" cast(patient_id as varchar) as patient_id from {source}"
        f" where phone is not null) where {sms}"
        " union all"
        " select * from (select 'email', lower(email) as address,"
        " cast(practice_slug as varchar), cast(patient_id as varchar)"
        f" from {source} where email is not null) where {email})"
    )


def _lines_query(source: str, numbers: str, bucket: Bucket | None = None) -> str:
    """The index's lines (after the header) of `source` whose key falls in `bucket` (all of them
    when None), sorted, each ending in a newline; `numbers` maps practice_slug to its number."""
    sms, email = ("true", "true") if bucket is None else bucket.conditions()
    return (
        f"with keyed as (select case contacts.channel when 'sms' then '0' else '1' end"
        " || hex(contacts.address) as key, numbers.practice, contacts.patient_id"
        f" from ({contacts_query(source, sms=sms, email=email)}) as contacts"
        f" inner join {numbers} as numbers on numbers.practice_slug = contacts.practice_slug)"
        " select key || chr(9) || practice::varchar || chr(9) || hex(patient_id) || chr(10)"
        " as line from keyed order by key"
    )


@dataclass(frozen=True)
class Bucket:
    """A range of index keys, as (channel digit, address) bounds: from `low` (inclusive; None =
    the first key) to `high` (exclusive; None = past the last). The key is the channel digit and
    the upper-case hex of the address's UTF-8 bytes, so its byte order is the order of (digit,
    address) by UTF-8 bytes — which is DuckDB's varchar order and Python's str order."""

    low: tuple[str, str] | None
    high: tuple[str, str] | None

    def conditions(self) -> tuple[str, str]:
        """SQL conditions on `address` selecting the bucket's SMS rows and its email rows."""
        return self._condition("0"), self._condition("1")

    def _condition(self, digit: str) -> str:
        parts = []
        if self.low is not None:
            if self.low[0] > digit:
                return "false"
            if self.low[0] == digit:
                parts.append(f"address >= {_literal(self.low[1])}")
        if self.high is not None:
            if self.high[0] < digit:
                return "false"
            if self.high[0] == digit:
                parts.append(f"address < {_literal(self.high[1])}")
        return " and ".join(parts) or "true"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def plan_buckets(sample: Sequence[tuple[str, str]], lines: int, bucket_lines: int) -> list[Bucket]:
    """Consecutive key ranges of about `bucket_lines` of the index's `lines` each, cut at the
    quantiles of `sample` ((digit, address) keys drawn from the lines); [Bucket(None, None)]
    when one sort holds them all."""
    count = -(-lines // bucket_lines) if bucket_lines > 0 else 1
    ordered = sorted(sample)
    if count <= 1 or not ordered:
        return [Bucket(None, None)]
    bounds: list[tuple[str, str]] = []
    for part in range(1, count):
        bound = ordered[len(ordered) * part // count]
        if not bounds or bound > bounds[-1]:
            bounds.append(bound)
    lows: list[tuple[str, str] | None] = [None, *bounds]
    highs: list[tuple[str, str] | None] = [*bounds, None]
    return [Bucket(low, high) for low, high in zip(lows, highs, strict=True)]


def write_index(snapshot_conn: Any, target: Path, bucket_lines: int = BUCKET_LINES) -> bool:
    """Write the contact index of the snapshot open on `snapshot_conn` (a DuckDB connection,
    or a cursor of one used from another thread: it only reads `mart_patients`) to `target`;
    False (nothing written) when the snapshot has no `mart_patients`.

    More than `bucket_lines` lines are sorted a key range at a time, the ranges written one
    after another: each sort then fits in the build's memory ceiling (one sort of the 31 M
    lines of 10,000 practices spilled: 15x the 1,000 world's CPU for 10x the lines)."""
    present = snapshot_conn.execute(
        "select count(*) from information_schema.tables where table_name = 'mart_patients'"
    ).fetchall()
    if not present or not present[0][0]:
        return False
    slugs = [
        str(row[0])
        for row in snapshot_conn.execute(
            "select distinct cast(practice_slug as varchar) from mart_patients order by 1"
        ).fetchall()
    ]
    header = "\t".join(
        (_MAGIC.decode(), str(FORMAT_VERSION), ",".join(_hex(slug) for slug in slugs))
    )
    numbers = (
        "(select unnest(?) as practice_slug, unnest(range(1, len(?) + 1)) as practice)"
    )
    buckets = _buckets(snapshot_conn, bucket_lines)
    target.unlink(missing_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(header.encode("ascii") + b"\n")
        for bucket in buckets:
            query = _lines_query("mart_patients", numbers, bucket)
            reader = snapshot_conn.sql(query, params=[slugs, slugs]).to_arrow_reader(
                _BATCH_ROWS
            )
            for batch in reader:
                handle.write(_string_bytes(batch.column(0)))
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(target, 0o600)
    return True


def _buckets(snapshot_conn: Any, bucket_lines: int) -> list[Bucket]:
    """The key ranges `write_index` sorts one at a time (one when the lines fit one sort)."""
    found = snapshot_conn.execute(
        "select count(*), count(phone) + count(email) from mart_patients"
    ).fetchall()
    patients, lines = (int(value or 0) for value in found[0]) if found else (0, 0)
    if lines <= bucket_lines:
        return [Bucket(None, None)]
    # Whole vectors of rows drawn (`system`): a reservoir sample reads and lower-cases every
    # address (5.6 CPU-s at 10,000 practices); the bounds need only rough quantiles.
    percent = min(100.0, 100.0 * _SAMPLE_ROWS / max(patients, 1))
    sampled = f"(select * from mart_patients using sample {percent:.6f} percent (system, 42))"
    sample = snapshot_conn.execute(
        "select case channel when 'sms' then '0' else '1' end, address"
        f" from ({contacts_query(sampled)})"
    ).fetchall()
    return plan_buckets([(str(d), str(a)) for d, a in sample], lines, bucket_lines)


def _string_bytes(column: Any) -> memoryview:
    """The concatenated values of an Arrow string column without nulls, straight from its data
    buffer (no Python object per value)."""
    import pyarrow as pa

    if column.null_count:
        raise ValueError("contact index line is null")
    if column.type not in (pa.string(), pa.large_string()):
        column = column.cast(pa.large_string())
    width = 4 if column.type == pa.string() else 8
    offsets = memoryview(column.buffers()[1]).cast("B")
    start = column.offset * width
    first = int.from_bytes(offsets[start : start + width], "little", signed=True)
    end = (column.offset + len(column)) * width
    last = int.from_bytes(offsets[end : end + width], "little", signed=True)
    return memoryview(column.buffers()[2]).cast("B")[first:last]


def _hex(value: str) -> str:
    return value.encode("utf-8").hex().upper()


class ContactIndex:
    """A read-only contact index; `lookup` has the signature of replies.PatientLookup."""

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as handle:
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        end = self._map.find(b"\n")
        fields = self._map[: max(end, 0)].split(b"\t")
        if end < 0 or fields[0] != _MAGIC or fields[1] != str(FORMAT_VERSION).encode():
            self._map.close()
            raise ValueError(f"{path.name} is not a contact index of version {FORMAT_VERSION}")
        self._slugs = fields[2].split(b",") if fields[2] else []
        self._start = end + 1

    def _line_start(self, position: int) -> int:
        """The start of the first line at or after `position` (in the data part)."""
        if position <= self._start:
            return self._start
        found = self._map.find(b"\n", position - 1)
        return len(self._map) if found < 0 else found + 1

    def _key_at(self, line: int) -> bytes:
        return self._map[line : self._map.find(b"\t", line)]

    def lookup(self, channel: str, address: str) -> Iterable[tuple[str, str]]:
        """(practice_slug, patient_id) of every patient with this address on this channel."""
        key = (_CHANNELS["sms" if channel == "sms" else "email"] + _hex(address)).encode()
        size = len(self._map)
        low, high = self._start, size
        while low < high:  # the first position whose next line's key is >= key
            middle = (low + high) // 2
            line = self._line_start(middle)
            if line < size and self._key_at(line) < key:
                low = middle + 1
            else:
                high = middle
        found: list[tuple[str, str]] = []
        line = self._line_start(low)
        while line < size:
            end = self._map.find(b"\n", line)
            fields = self._map[line:end].split(b"\t")
            if fields[0] != key:
                break
            slug = self._slugs[int(fields[1]) - 1]
            found.append((bytes.fromhex(slug.decode()).decode(), _unhex(fields[2])))
            line = end + 1
        return found

    def rows(self) -> Iterator[tuple[str, str, str, str]]:
        """Every (channel, address, practice_slug, patient_id) of the index, in file order."""
        line = self._start
        size = len(self._map)
        while line < size:
            end = self._map.find(b"\n", line)
            key, practice, patient = self._map[line:end].split(b"\t")
            slug = bytes.fromhex(self._slugs[int(practice) - 1].decode()).decode()
            channel = "sms" if key[:1] == b"0" else "email"
            yield channel, _unhex(key[1:]), slug, _unhex(patient)
            line = end + 1

    def close(self) -> None:
        """Close the file."""
        self._map.close()


def _unhex(value: bytes) -> str:
    return bytes.fromhex(value.decode("ascii")).decode("utf-8")

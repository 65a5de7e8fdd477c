"""The contact index published beside each snapshot: who has this phone or email address.

`loopdesk inbound` matches a reply's sender against the snapshot's patients. Opening the
DuckDB snapshot costs DuckDB's import (most of the command's start-up), so each build also
writes `snapshot-….contacts.sqlite` next to its snapshot: one row per (channel, address,
practice, patient) from `mart_patients`, indexed by address, read with the standard
library's sqlite3. It holds phones and emails: written 0600, like the snapshot. A snapshot
without one (published by an older version, or restored from a backup) is read directly.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

INDEX_SUFFIX = ".contacts.sqlite"
_CHUNK_ROWS = 100_000
_SCHEMA = (
    "create table contacts (channel text not null, address text not null, "
    "practice_slug text not null, patient_id text not null)"
)


def index_path(snapshot: Path) -> Path:
    """Where the contact index of `snapshot` lives (same folder, same stem)."""
    return snapshot.with_name(snapshot.name.removesuffix(".duckdb") + INDEX_SUFFIX)


def write_index(snapshot_conn: Any, target: Path) -> bool:
    """Write the contact index of the snapshot open on `snapshot_conn` (a DuckDB connection)
    to `target`; False (nothing written) when the snapshot has no `mart_patients`."""
    present = snapshot_conn.execute(
        "select count(*) from information_schema.tables where table_name = 'mart_patients'"
    ).fetchone()
    if not present or not present[0]:
        return False
    cursor = snapshot_conn.execute(contacts_query("mart_patients"))
    target.unlink(missing_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    connection = sqlite3.connect(target)
    try:
        # A fresh file nobody reads until the snapshot is published: no journal, and one
        # fsync at the end instead of one per commit.
        connection.execute("pragma journal_mode = off")
        connection.execute("pragma synchronous = off")
        connection.execute(_SCHEMA)
        # Streamed in chunks so the build never holds every contact as Python objects.
        while rows := cursor.fetchmany(_CHUNK_ROWS):
            connection.executemany("insert into contacts values (?, ?, ?, ?)", rows)
        connection.execute("create index contacts_address on contacts (channel, address)")
        connection.commit()
    finally:
        connection.close()
    fd = os.open(target, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(target, 0o600)
    return True


def contacts_query(source: str) -> str:
    """The index's rows (channel, address, practice_slug, patient_id) of a mart_patients-shaped
    `source` (a table name or a parenthesised select)."""
    # The same expressions as the lookup inbound used to run against the snapshot:
    # `phone = ?` for SMS and `lower(email) = ?` for email (DuckDB's lower, not Python's).
    # No `distinct`: a patient gives at most one row per channel, and (practice_slug,
    # patient_id) is unique in mart_patients (its key check passes before the index is
    # written), so the rows are distinct already (the hash of 3 M rows cost 1 CPU-s).
    return (
        "select channel, address, practice_slug, patient_id from ("
        " select 'sms' as channel, phone as address, cast(practice_slug as varchar) as"
        f" practice_slug, cast(patient_id as varchar) as patient_id from {source}"
        " where phone is not null"
        " union all"
        " select 'email', lower(email), cast(practice_slug as varchar),"
        f" cast(patient_id as varchar) from {source} where email is not null)"
    )


def patch_index(snapshot_conn: Any, target: Path, practices: Sequence[str], *, source: str) -> None:
    """Replace the contacts of `practices` in the index at `target` (a copy of the previous
    build's) with the rows of `source`, a table holding just those practices' mart_patients."""
    cursor = snapshot_conn.execute(contacts_query(source))
    connection = sqlite3.connect(target)
    try:
        connection.executemany(
            "delete from contacts where practice_slug = ?", [(slug,) for slug in practices]
        )
        while rows := cursor.fetchmany(_CHUNK_ROWS):
            connection.executemany("insert into contacts values (?, ?, ?, ?)", rows)
        connection.commit()
    finally:
        connection.close()
    os.chmod(target, 0o600)


class ContactIndex:
    """A read-only contact index; `lookup` has the signature of replies.PatientLookup."""

    def __init__(self, path: Path) -> None:
        self._connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)

    def lookup(self, channel: str, address: str) -> Iterable[tuple[str, str]]:
        """(practice_slug, patient_id) of every patient with this address on this channel."""
        rows = self._connection.execute(
            "select practice_slug, patient_id from contacts where channel = ? and address = ?",
            ("sms" if channel == "sms" else "email", address),
        ).fetchall()
        return [(str(slug), str(pid)) for slug, pid in rows]

    def close(self) -> None:
        """Close the file."""
        self._connection.close()

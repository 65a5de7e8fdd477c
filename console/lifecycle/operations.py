"""Operations: schema upgrade, backup and restore of a data home, the audit-chain check.

A backup folder holds (every file 0600, the folder 0700):
- `loopdesk.db` — the SQLite operational store, copied with SQLite's online backup API (a
  consistent copy while the console keeps working), or `loopdesk.pgdump` — `pg_dump -Fc` of
  the PostgreSQL store;
- `raw.duckdb` — the raw warehouse store (so the next `build` after a restore rebuilds the
  same marts), and `snapshot.duckdb` — the published snapshot CURRENT named;
- `secret.key` — the generated signing secret (absent when LOOPDESK_SECRET_KEY is set: it lives
  wherever the settings come from, and must be restored there);
- `manifest.json` — what was copied, the schema revision, the audit chain's length and head.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine, make_url

from console.platform.errors import UserError

MANIFEST = "manifest.json"
BACKUP_FORMAT = 1


@dataclass(frozen=True)
class ChainCheck:
    """The audit chain's verdict: events checked and the first bad row (None when intact)."""

    events: int
    first_bad_seq: int | None
    head_hash: str | None

    def to_json(self) -> dict[str, Any]:
        """The `loopdesk audit verify --json` shape."""
        return {"ok": self.first_bad_seq is None, "events": self.events,
                "first_bad_seq": self.first_bad_seq, "head_hash": self.head_hash}


def verify_audit(engine: Engine) -> ChainCheck:
    """Check the whole chain (edits, deletions, reordering) on the store `engine` names."""
    from sqlmodel import col, select

    from console.identity.audit import count_events, verify_chain
    from console.models.identity import AuditEvent
    from console.platform.db import new_session

    with new_session(engine) as session:
        bad = verify_chain(session=session)
        events = count_events(session=session)
        head = session.exec(select(AuditEvent.hash).order_by(col(AuditEvent.seq).desc())
                            .limit(1)).first()
    return ChainCheck(events=events, first_bad_seq=bad, head_hash=head)


def _private_file(path: Path) -> None:
    os.chmod(path, 0o600)


def _pg_args(url: str) -> tuple[list[str], str | None]:
    """libpq options for pg_dump/pg_restore from a SQLAlchemy URL, and its password if any
    (handed over in a 0600 passfile, never on the command line)."""
    parsed = make_url(url)
    args = ["--dbname", str(parsed.database), "--no-password"]
    if parsed.host:
        args += ["--host", parsed.host]
    if parsed.port:
        args += ["--port", str(parsed.port)]
    if parsed.username:
        args += ["--username", parsed.username]
    return args, str(parsed.password) if parsed.password else None


def _run_pg(tool: str, args: list[str], password: str | None) -> None:
    binary = shutil.which(tool)
    if binary is None:
        raise UserError(f"{tool} is not installed (needed to back up or restore PostgreSQL)")
    with tempfile.TemporaryDirectory() as scratch:
        env: dict[str, str] | None = None
        if password is not None:
            passfile = Path(scratch) / "pgpass"
            escaped = password.replace("\\", "\\\\").replace(":", "\\:")
            passfile.write_text(f"*:*:*:*:{escaped}\n")
            _private_file(passfile)
            env = {"PGPASSFILE": str(passfile)}
        done = subprocess.run([binary, *args], env=env, capture_output=True,  # noqa: S603
                              text=True, check=False, timeout=3600)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise UserError(f"{tool} failed: {reason}")


def _copy_duckdb(source: Path, target: Path) -> None:
    """A consistent copy of a DuckDB file: copied while holding it open read-only, which keeps
    any writer (ingest, the ops export of a build) out; refused while a writer holds it."""
    import duckdb

    try:
        with duckdb.connect(str(source), read_only=True):
            shutil.copyfile(source, target)
    except duckdb.IOException as error:
        raise UserError(f"cannot copy {source.name} now (is a build or ingest running?): "
                        f"{str(error).splitlines()[0]}") from error


def backup(*, out: Path, now: datetime) -> dict[str, Any]:
    """Write a backup of the configured home into the new or empty folder `out`."""
    from console.migrations import current_revision
    from console.platform.db import get_engine, init_db
    from loopdesk_core.settings import get_settings
    from warehouse import paths
    from warehouse.snapshot import current_snapshot_path

    settings = get_settings()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{out} exists and is not an empty folder")
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(out, 0o700)
    url = settings.resolved_database_url
    engine = get_engine(url)
    init_db(engine)
    files: list[str] = []
    if engine.dialect.name == "sqlite":
        database = str(engine.url.database)
        target = out / "loopdesk.db"
        with sqlite3.connect(database) as source, sqlite3.connect(target) as copy:
            source.backup(copy)
        files.append(target.name)
    elif engine.dialect.name == "postgresql":
        args, password = _pg_args(url)
        _run_pg("pg_dump", [*args, "--format", "custom", "--no-owner",
                            "--file", str(out / "loopdesk.pgdump")], password)
        files.append("loopdesk.pgdump")
    else:
        raise UserError(f"backups of a {engine.dialect.name} store are not supported")
    raw = paths.raw_db_path()
    if raw.exists():
        _copy_duckdb(raw, out / "raw.duckdb")
        files.append("raw.duckdb")
    snapshot = current_snapshot_path()
    if snapshot is not None and snapshot.exists():
        _copy_duckdb(snapshot, out / "snapshot.duckdb")
        files.append("snapshot.duckdb")
    secret = settings.resolved_home / "secret.key"
    if settings.secret_key is None and secret.exists():
        shutil.copyfile(secret, out / "secret.key")
        files.append("secret.key")
    chain = verify_audit(engine)
    with engine.connect() as connection:
        revision = current_revision(connection)
    manifest = {
        "format": BACKUP_FORMAT, "created_at": now.isoformat(), "store": engine.dialect.name,
        "schema_revision": revision, "files": files,
        "snapshot_name": snapshot.name if snapshot is not None else None,
        "audit_events": chain.events, "audit_head": chain.head_hash,
        "secret_from_settings": settings.secret_key is not None,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    for name in (*files, MANIFEST):
        _private_file(out / name)
    return manifest


def restore(*, source: Path) -> dict[str, Any]:
    """Restore a backup folder into the configured home and store (both replaced)."""
    from console.migrations import forget
    from console.platform.db import get_engine, init_db
    from loopdesk_core.settings import get_settings
    from warehouse import paths
    from warehouse.contacts import index_path
    from warehouse.snapshot import _write_pointer

    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text())
    except (FileNotFoundError, NotADirectoryError):
        raise UserError(f"{source} is not a Loopdesk backup (no {MANIFEST})") from None
    except json.JSONDecodeError:
        raise UserError(f"{source / MANIFEST} is not valid JSON") from None
    if manifest.get("format") != BACKUP_FORMAT:
        raise UserError(f"{source} is a backup of an unknown format")
    files = set(manifest.get("files", []))
    settings = get_settings()
    url = settings.resolved_database_url
    engine = get_engine(url)
    if engine.dialect.name == "sqlite" and "loopdesk.db" in files:
        database = Path(str(engine.url.database))
        database.parent.mkdir(parents=True, exist_ok=True)
        engine.dispose()
        with sqlite3.connect(source / "loopdesk.db") as backup_db, \
                sqlite3.connect(database) as live:
            backup_db.backup(live)
    elif engine.dialect.name == "postgresql" and "loopdesk.pgdump" in files:
        engine.dispose()
        args, password = _pg_args(url)
        _run_pg("pg_restore", [*args, "--clean", "--if-exists", "--no-owner",
                               "--single-transaction", str(source / "loopdesk.pgdump")],
                password)
    else:
        raise UserError(f"the backup holds a {manifest.get('store')} store; the configured "
                        f"store is {engine.dialect.name}")
    forget(engine)
    init_db(engine)  # a backup from an older version is upgraded here
    if "raw.duckdb" in files:
        raw = paths.raw_db_path()
        raw.unlink(missing_ok=True)
        shutil.copyfile(source / "raw.duckdb", raw)
    if "snapshot.duckdb" in files and manifest.get("snapshot_name"):
        name = str(manifest["snapshot_name"])
        if "/" in name or not name.endswith(".duckdb"):
            raise UserError("the backup's manifest names an invalid snapshot")
        target = paths.snapshots_dir() / name
        index_path(target).unlink(missing_ok=True)  # read from the restored file itself
        shutil.copyfile(source / "snapshot.duckdb", target)
        _write_pointer(name)
    if "secret.key" in files:
        if settings.secret_key is not None:
            note = "LOOPDESK_SECRET_KEY is set: the backup's secret.key was not installed"
            manifest["note"] = note
        else:
            target = settings.resolved_home / "secret.key"
            target.unlink(missing_ok=True)
            shutil.copyfile(source / "secret.key", target)
            _private_file(target)
    chain = verify_audit(engine)
    if chain.first_bad_seq is not None:
        raise UserError(f"the restored audit chain is broken at seq {chain.first_bad_seq}")
    return {**manifest, "restored_audit_events": chain.events}

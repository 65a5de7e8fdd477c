"""Finding 8 (start-up): the per-call commands load none of the heavy libraries.

`loopdesk inbound` runs once per SMS (a webhook) and scripts call `claim`/`log` per task, so
they must not pay for polars, DuckDB, pyarrow or Alembic at start (bench/startup.py measures
the time; this checks the behaviour that keeps it low, in a fresh process per command).
`inbound` matches the sender through the contact index published beside the snapshot
(warehouse/contacts.py), the same answers as reading the snapshot itself.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.worlds import FIXED_NOW, build_generated_world, point_at_home

HEAVY = ("polars", "duckdb", "pyarrow", "alembic", "numpy", "pandas", "streamlit",
         "pydantic_settings")
# What the per-call commands skip besides (issue 10s): the CLI framework (typer builds a
# pydantic adapter per option, rich formats its help), the JWT library with cryptography
# (only tokens need it), phonenumbers (only a phone to read needs it), and the outreach
# tables for `claim` (console/models/__init__.py registers no table of its own).
OUTREACH_TABLES = "console.models.outreach"
FAST_SKIPS = ("typer", "click", "rich", "jose", "cryptography", "phonenumbers", OUTREACH_TABLES)
RUNNER = f"""
import json, sys
sys.argv = ["loopdesk", *sys.argv[1:]]
from console.cli import main
code = 0
try:
    main()
except SystemExit as done:
    code = done.code or 0
heavy = sorted(name for name in {HEAVY!r} if name in sys.modules)
loaded = sorted(name for name in {FAST_SKIPS!r} if name in sys.modules)
print("\\n" + json.dumps({{"code": code, "heavy": heavy, "loaded": loaded}}))
"""
EMAIL = "startup@agency.test"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A small built home with one coordinator (the settings point at it for the module)."""
    patch = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("startup") / "home"
    point_at_home(patch, home)
    build_generated_world(home.parent / "drop", practices=2, seed=5, months=6,
                          now=datetime.fromisoformat(FIXED_NOW))
    slugs = sorted(p.name for p in (home.parent / "drop").iterdir() if p.is_dir())
    subprocess.run([sys.executable, "-c", RUNNER, "users", "add", EMAIL, "--role", "coordinator",
                    *[arg for slug in slugs for arg in ("--practice", slug)]],
                   input="a long enough startup password\n", capture_output=True, text=True,
                   check=True, timeout=300, env=dict(os.environ))
    yield home
    patch.undo()


def _run(*args: str) -> tuple[int, str, list[str]]:
    done = subprocess.run([sys.executable, "-c", RUNNER, *args], capture_output=True,
                          text=True, check=False, timeout=300, env=dict(os.environ))
    assert done.stdout.strip(), done.stderr
    *printed, last = done.stdout.rstrip("\n").split("\n")
    report = json.loads(last)
    assert report["code"] == 0, done.stderr
    return report["code"], "\n".join(printed), report["heavy"]


def _loaded(*args: str) -> tuple[str, list[str]]:
    """Run one command (it must succeed); its output and which of FAST_SKIPS it loaded."""
    done = subprocess.run([sys.executable, "-c", RUNNER, *args], capture_output=True,
                          text=True, check=False, timeout=300, env=dict(os.environ))
    *printed, last = done.stdout.rstrip("\n").split("\n")
    report = json.loads(last)
    assert report["code"] == 0, done.stderr
    return "\n".join(printed), report["loaded"]


def _a_patient_phone() -> str:
    from warehouse.snapshot import reading_snapshot

    with reading_snapshot() as snapshot:
        row = snapshot.execute(
            "select phone from mart_patients where phone is not null order by patient_id limit 1"
        ).fetchone()
    assert row is not None
    return str(row[0])


def test_per_call_commands_load_no_heavy_library(world: Path) -> None:
    for args in (["--help"], ["claim", "--help"], ["log", "--help"], ["inbound", "--help"]):
        assert _run(*args)[2] == [], args
    _, out, heavy = _run("inbound", "--channel", "sms", "--from", _a_patient_phone(),
                         "--text", "thank you", "--json")
    assert heavy == []
    assert json.loads(out)["people_matched"] >= 1  # the sender was found without DuckDB
    _, out, heavy = _run("claim", "--as", EMAIL, "--json")
    assert heavy == []
    task = json.loads(out)
    assert task is not None, "the world has nothing callable: make it bigger"
    _, out, heavy = _run("log", str(task["task_id"]), "--as", EMAIL,
                         "--disposition", "no_answer", "--minutes", "1", "--json")
    assert heavy == []
    assert json.loads(out)["task_id"] == task["task_id"]


def test_contact_index_answers_like_the_snapshot(world: Path) -> None:
    from console.outreach.replies import snapshot_patient_lookup
    from warehouse.contacts import ContactIndex, index_path
    from warehouse.pointer import current_snapshot_path
    from warehouse.snapshot import reading_snapshot

    path = current_snapshot_path()
    assert path is not None
    index = ContactIndex(index_path(path))
    try:
        with reading_snapshot() as snapshot:
            direct = snapshot_patient_lookup(snapshot)
            phones = [r[0] for r in snapshot.execute(
                "select distinct phone from mart_patients where phone is not null").fetchall()]
            emails = [r[0] for r in snapshot.execute(
                "select distinct lower(email) from mart_patients where email is not null"
            ).fetchall()]
            assert len(phones) > 50 and len(emails) > 50
            probes = [("sms", p) for p in phones] + [("email", e) for e in emails]
            probes += [("sms", "+13125550000"), ("email", "nobody@example.test"),
                       ("email", emails[0].upper()), ("sms", emails[0]), ("email", phones[0])]
            for channel, address in probes:
                assert sorted(index.lookup(channel, address)) == sorted(
                    direct(channel, address)), (channel, address)
    finally:
        index.close()
    assert stat.S_IMODE(index_path(path).stat().st_mode) == 0o600  # phones and emails


def test_inbound_without_an_index_reads_the_snapshot(world: Path) -> None:
    from warehouse.contacts import index_path
    from warehouse.pointer import current_snapshot_path

    phone = _a_patient_phone()
    args = ("inbound", "--channel", "sms", "--from", phone, "--text", "ok", "--json")
    with_index = json.loads(_run(*args)[1])
    path = current_snapshot_path()
    assert path is not None
    saved = index_path(path).read_bytes()
    index_path(path).unlink()  # a snapshot published before the index existed
    try:
        _, out, heavy = _run(*args)
        assert heavy == ["duckdb"]  # the fallback opens the snapshot
        assert json.loads(out)["people_matched"] == with_index["people_matched"] >= 1
    finally:
        index_path(path).write_bytes(saved)


def test_each_snapshot_keeps_its_own_index(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from console.lifecycle.build import build_everything
    from warehouse import paths
    from warehouse.contacts import INDEX_SUFFIX, index_path
    from warehouse.snapshot import KEEP_SNAPSHOTS

    home = tmp_path / "home"
    point_at_home(monkeypatch, home)
    now = datetime.fromisoformat(FIXED_NOW)
    build_generated_world(tmp_path / "drop", practices=1, seed=3, months=2, now=now)
    for _ in range(KEEP_SNAPSHOTS):
        build_everything(now=now)
    folder = paths.snapshots_dir()
    snapshots = sorted(p for p in folder.iterdir() if p.suffix == ".duckdb")
    indexes = sorted(p for p in folder.iterdir() if p.name.endswith(INDEX_SUFFIX))
    assert len(snapshots) == KEEP_SNAPSHOTS  # older ones pruned, and their indexes with them
    assert indexes == [index_path(p) for p in snapshots]


def test_per_call_commands_skip_the_cli_framework(world: Path) -> None:
    """`claim`, `log` and `inbound` run without typer, rich, python-jose or cryptography;
    `claim` and `log` without phonenumbers too (inbound reads the sender's number with it),
    `claim` without the outreach tables (`log` may queue a thank-you, `inbound` a reply)."""
    out, loaded = _loaded("claim", "--as", EMAIL, "--json")
    assert loaded == []
    task = json.loads(out)
    assert task is not None, "the world has nothing callable: make it bigger"
    out, loaded = _loaded("log", str(task["task_id"]), "--as", EMAIL,
                          "--disposition", "no_answer", "--minutes", "1", "--json")
    assert loaded == [OUTREACH_TABLES]
    assert json.loads(out)["task_id"] == task["task_id"]
    out, loaded = _loaded("inbound", "--channel", "sms", "--from", _a_patient_phone(),
                          "--text", "thank you", "--json")
    assert loaded == [OUTREACH_TABLES, "phonenumbers"]
    assert json.loads(out)["people_matched"] >= 1
    out, loaded = _loaded("inbound", "--channel", "email", "--from", "nobody@example.test",
                          "--text", "thanks", "--json")
    assert loaded == [OUTREACH_TABLES]
    # Help is typer's own, as before: it loads typer (and rich, which formats it).
    out, loaded = _loaded("claim", "--help")
    assert "--as" in out and {"typer", "rich"} <= set(loaded)


def test_a_fast_command_closes_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path pauses the collector, so it closes the store's connections itself: the
    last close checkpoints SQLite's WAL, and no `-wal` file is left behind (as before)."""
    home = tmp_path / "home"
    point_at_home(monkeypatch, home)
    done = subprocess.run([sys.executable, "-c", RUNNER, "claim", "--as", "nobody@agency.test"],
                          capture_output=True, text=True, check=False, timeout=300,
                          env=dict(os.environ))
    assert "no active user" in done.stderr  # the store was opened (and migrated) first
    assert (home / "loopdesk.db").exists()
    assert not (home / "loopdesk.db-wal").exists()

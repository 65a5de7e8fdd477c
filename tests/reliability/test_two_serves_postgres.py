"""Fault test: two `loopdesk serve` instances on one PostgreSQL database (and one shared
warehouse folder) start together and keep answering while a `build` publishes a snapshot and
coordinators claim from both sides.

Checks: both start (migrations serialised by an advisory lock — the second sees a current
schema), every health and report request during the build is answered 200 (the snapshot swap
is atomic for readers), no claim is handed out twice, and the audit chain verifies afterwards.
Runs under CI=true (fails without PostgreSQL there); skipped locally without a server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.parse
from collections import Counter
from pathlib import Path

import pytest

from tests.postgres import fresh_database
from tests.reliability.serving import serve_together
from tests.reliability.test_edge import _request
from tests.worlds import FIXED_NOW, TEST_SECRET

LOOPDESK = str(Path(sys.executable).with_name("loopdesk"))
pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([LOOPDESK, *args], env=env, input=stdin, capture_output=True,
                          text=True, check=False, timeout=600)
    assert done.returncode == 0, (args, done.stderr[-2000:])
    return done.stdout


def test_two_serves_share_one_postgres_through_a_build(tmp_path: Path) -> None:
    with fresh_database("loopdesk_two_serves") as url:
        env = {**os.environ, "LOOPDESK_HOME": str(tmp_path / "home"),
               "LOOPDESK_DATABASE_URL": url, "LOOPDESK_NOW": FIXED_NOW,
               "LOOPDESK_SECRET_KEY": TEST_SECRET, "LOOPDESK_TRUSTED_PROXIES": "127.0.0.1"}
        drop = tmp_path / "drop"
        _cli(env, "generate", "--practices", "2", "--months", "3", "--seed", "21",
             "--out", str(drop))
        _cli(env, "ingest", str(drop))
        _cli(env, "build")
        practices = sorted(p.name for p in drop.iterdir() if p.is_dir())
        for n in range(4):
            _cli(env, "users", "add", f"coord{n}@agency.test", "--role", "coordinator",
                 *[arg for slug in practices for arg in ("--practice", slug)],
                 stdin="a long enough password for tests\n")
        link = json.loads(_cli(env, "report-link", "--practice", practices[0], "--json"))
        token = urllib.parse.parse_qs(urllib.parse.urlsplit(link["url"]).query)["token"][0]

        # Start both at once: each runs `db upgrade` at start on the same database.
        with serve_together((env, tmp_path / "a.log"), (env, tmp_path / "b.log")) as servers:
            first, second = servers
            statuses: Counter[tuple[str, int]] = Counter()
            stop = threading.Event()

            def hammer(base: str, client: str) -> None:
                while not stop.is_set():
                    for path in ("/api/health", f"/api/v1/report?token={token}"):
                        status, _, _ = _request(base, "GET", path,
                                                headers={"X-Forwarded-For": client})
                        statuses[(path.split("?")[0], status)] += 1

            readers = [threading.Thread(target=hammer, args=(server.url, f"198.51.100.{n}"))
                       for n, server in enumerate((first, second))]
            for reader in readers:
                reader.start()
            try:
                claimers = [subprocess.Popen(
                    [LOOPDESK, "claim", "--as", f"coord{n}@agency.test", "--json"], env=env,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                    for n in range(4)]
                _cli(env, "build")  # publishes a new snapshot while both serve and claims run
                claimed = []
                for process in claimers:
                    out, err = process.communicate(timeout=300)
                    assert process.returncode == 0, err[-2000:]
                    task = json.loads(out)
                    if task is not None:
                        claimed.append(task["task_id"])
            finally:
                stop.set()
                for reader in readers:
                    reader.join(timeout=120)
            assert first.process.poll() is None and second.process.poll() is None
            for server in (first, second):
                assert _request(server.url, "GET", "/api/health")[0] == 200
        assert statuses, "no request was made during the build"
        assert {status for (_, status) in statuses} == {200}, statuses
        assert len(claimed) == len(set(claimed)) and claimed
        verdict = json.loads(_cli(env, "audit", "verify", "--json"))
        assert verdict["ok"] is True
        for log in ("a.log", "b.log"):
            assert "Traceback" not in (tmp_path / log).read_text()

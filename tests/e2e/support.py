"""A served demo-like world for the browser suite and the console benchmark.

`loopdesk generate → ingest → build`, users added through the CLI, then `loopdesk serve` on a
free loopback port, its log drained to a file (a full pipe would stall the server).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SECRET = "e2e-secret-key-that-is-long-enough-0123456789"
PASSWORD = "e2e password long enough"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LOOPDESK = [str(Path(sys.executable).with_name("loopdesk"))]


@dataclass(frozen=True)
class World:
    """A built world: its environment and practices (slug → name, in slug order)."""

    root: Path
    env: dict[str, str]
    practices: dict[str, str]

    @property
    def slugs(self) -> list[str]:
        """Practice slugs in order."""
        return sorted(self.practices)


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(world_env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """Run a `loopdesk` command in the world; its stdout."""
    done = subprocess.run([*LOOPDESK, *args], env=world_env, input=stdin, capture_output=True,
                          text=True, check=True, timeout=300)
    return done.stdout


def python(world_env: dict[str, str], code: str) -> str:
    """Run Python code against the world's settings (set-up steps a test needs)."""
    done = subprocess.run([sys.executable, "-c", code], env=world_env, check=True, timeout=120,
                          capture_output=True, text=True)
    return done.stdout


def build_world(root: Path, *, now: str, practices: int = 3, months: int = 6,
                seed: int = 7) -> World:
    """Generate, ingest and build a world under `root` with the clock pinned at `now`."""
    env = {**os.environ, "LOOPDESK_HOME": str(root / "home"), "LOOPDESK_NOW": now,
           "LOOPDESK_SECRET_KEY": SECRET}
    env.pop("LOOPDESK_DATABASE_URL", None)
    env.pop("LOOPDESK_PUBLIC_BASE_URL", None)
    run(env, "generate", "--practices", str(practices), "--months", str(months), "--seed",
        str(seed), "--out", str(root / "drop"))
    run(env, "ingest", str(root / "drop"))
    run(env, "build")
    names = dict(line.split(",")[:2]
                 for line in (root / "drop" / "practices.csv").read_text().splitlines()[1:])
    return World(root=root, env=env, practices=dict(sorted(names.items())))


def add_user(world: World, email: str, role: str, *slugs: str) -> None:
    """A user with the shared test password."""
    args = ["users", "add", email, "--role", role]
    for slug in slugs:
        args += ["--practice", slug]
    run(world.env, *args, stdin=PASSWORD + "\n")


def _ready(url: str, server: subprocess.Popen[str], attempts: int = 120) -> None:
    """Wait until Streamlit's own health endpoint answers (its runtime starts after uvicorn
    logs that it listens; a browser arriving earlier can hang on the first connection)."""
    from urllib.error import URLError
    from urllib.request import urlopen

    pause = threading.Event()
    for _ in range(attempts):
        if server.poll() is not None:
            break
        try:
            with urlopen(url + "_stcore/health", timeout=2) as answer:  # noqa: S310 (loopback)
                if answer.status == 200:
                    return
        except (URLError, OSError):
            pass
        pause.wait(0.5)  # the server's start-up, not the clock under test
    raise RuntimeError("loopdesk serve never became healthy")


@contextmanager
def serving(world: World, log_name: str) -> Iterator[str]:
    """`loopdesk serve` on a free port; yields its URL (ends with /)."""
    port = free_port()
    server = subprocess.Popen([*LOOPDESK, "serve", "--port", str(port)], env=world.env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    listening = threading.Event()
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / log_name

    def drain() -> None:
        assert server.stderr is not None
        with log_path.open("w") as log:
            for line in server.stderr:
                log.write(line)
                log.flush()
                if "running on" in line.lower():
                    listening.set()
        listening.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        # Wait on the server's own log line (an event, not a sleep).
        if not listening.wait(timeout=120) or server.poll() is not None:
            raise RuntimeError(f"loopdesk serve did not start; see {log_path}")
        url = f"http://127.0.0.1:{port}/"
        _ready(url, server)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        reader.join(timeout=30)

"""A real `loopdesk serve` in a child process on a free loopback port, for edge tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

LOOPDESK = str(Path(sys.executable).with_name("loopdesk"))
START_TIMEOUT_S = 120


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Served:
    """A running server: its base URL and where its stderr (the access log) goes."""

    url: str
    log: Path
    process: subprocess.Popen[bytes]


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/health", timeout=2):  # noqa: S310 (loopback)
            return True
    except urllib.error.HTTPError:
        return True  # answering at all (503 before a build) means it is up
    except OSError:
        return False


def _start(env: dict[str, str], log: Path) -> Served:
    port = free_port()
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [LOOPDESK, "serve", "--port", str(port)], env=env, stdout=sink, stderr=sink,
            start_new_session=True,
        )
    return Served(url=f"http://127.0.0.1:{port}", log=log, process=process)


def _wait(served: Served) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _ready(served.url):
        if served.process.poll() is not None:
            raise RuntimeError(f"serve exited: {served.log.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError("serve did not answer in time")
        time.sleep(0.2)  # polling a child process's readiness, not waiting for time


def _stop(served: Served) -> None:
    os.killpg(served.process.pid, signal.SIGTERM)
    try:
        served.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(served.process.pid, signal.SIGKILL)
        served.process.wait(timeout=20)


@contextmanager
def serve_together(*configs: tuple[dict[str, str], Path]) -> Iterator[list[Served]]:
    """Start several servers at the same moment, wait until all answer, stop them after."""
    started = [_start(env, log) for env, log in configs]
    try:
        for served in started:
            _wait(served)
        yield started
    finally:
        for served in started:
            _stop(served)


@contextmanager
def serve(env: dict[str, str], log: Path) -> Iterator[Served]:
    """Start `loopdesk serve` with `env`, wait until it answers (polling), stop it after."""
    with serve_together((env, log)) as (served,):
        yield served

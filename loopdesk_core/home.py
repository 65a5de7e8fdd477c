"""The data home is private: files 0600 and folders 0700 whatever the caller's umask.

PHI lives in several stores under the home (loopdesk.db and its WAL, the raw DuckDB, the
snapshots, outbox/sms.jsonl, quarantine files). Rather than chmod each after the fact, every
entry point (the CLI, the ASGI app) calls `make_private()` first: the process umask becomes
077, so SQLite, DuckDB and our own writers create owner-only files, and an existing home is
tightened when it is first used (a home made by an older version under umask 022):
`make_private(home)` is called where the home is opened (the store engine, the warehouse
folder). The CLI sets the umask before anything else, without reading the settings, so that
`loopdesk --help` stays fast.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
_OPEN_BITS = stat.S_IRWXG | stat.S_IRWXO


def tighten(home: Path) -> int:
    """Remove group/other bits from `home` and everything under it; how many entries changed.

    Symbolic links are not followed (their targets are not ours to change).
    """
    changed = 0
    if not home.is_dir() or home.is_symlink():
        return 0
    for root, folders, files in os.walk(home):
        for name in [root, *(os.path.join(root, entry) for entry in (*folders, *files))]:
            try:
                info = os.lstat(name)
            except FileNotFoundError:
                continue
            if stat.S_ISLNK(info.st_mode) or not info.st_mode & _OPEN_BITS:
                continue
            os.chmod(name, stat.S_IMODE(info.st_mode) & ~_OPEN_BITS)
            changed += 1
    return changed


def make_private(home: Path | None = None) -> None:
    """Set the process umask to 077 and tighten an existing home (cheap when already private)."""
    os.umask(PRIVATE_UMASK)
    if home is None:
        from loopdesk_core.settings import get_settings

        home = get_settings().resolved_home
    try:
        info = os.lstat(home)
    except OSError:
        return  # created later, under the private umask
    if stat.S_ISDIR(info.st_mode) and info.st_mode & _OPEN_BITS:
        tighten(home)

"""Cheap per-file checks before any CSV parsing: size, binary, encoding, truncation, header."""

from __future__ import annotations

import codecs
import csv
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from pipelines.contract import ExportFile

_CHUNK = 16 * 1024 * 1024
_BOM = "\ufeff"


@dataclass(frozen=True)
class FileCheck:
    """The verdict on one export file: `ok`, `paused` (shape changed) or `error` (unreadable)."""

    practice: str
    spec: ExportFile
    path: Path
    status: str
    message: str | None = None
    header: tuple[str, ...] = ()
    has_quotes: bool = False

    @property
    def loadable(self) -> bool:
        """Whether the file may be parsed."""
        return self.status == "ok"


def _split_line(line: str) -> list[str]:
    """Fields of one CSV line."""
    return next(csv.reader([line]), [])


def _scan(path: Path) -> tuple[str | None, int, bytes, bytes]:
    """One streaming pass: a problem (binary / not UTF-8) or None, the quote count,
    the first line and the last line of the file (raw bytes)."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    quotes = 0
    head = b""
    tail = b""
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            if b"\x00" in chunk:
                return "binary file (contains NUL bytes)", quotes, head, tail
            try:
                decoder.decode(chunk, final=False)
            except UnicodeDecodeError:
                return "not UTF-8 text", quotes, head, tail
            quotes += chunk.count(b'"')
            if not head:
                head = chunk[: chunk.find(b"\n") + 1 or len(chunk)]
            tail = (tail + chunk)[-65_536:]
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "not UTF-8 text (file ends mid-character)", quotes, head, tail
    return None, quotes, head, tail


def outside_drop(path: Path, drop: Path) -> str | None:
    """Why `path` may not be read as a file of the drop folder `drop`, or None if it may.

    A drop file must be a regular file reached without any symbolic link below the drop:
    a link (to another practice's folder, or anywhere outside) would load someone else's data
    under this practice's name.
    """
    try:
        relative = path.relative_to(drop)
    except ValueError:
        return "outside the drop folder; refused"
    current = drop
    for part in relative.parts:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except OSError:
            return "cannot be read"
        if stat.S_ISLNK(mode):
            return "is a symbolic link; refused (drop files must be regular files)"
    if not stat.S_ISREG(mode):
        return "is not a regular file; refused"
    if os.path.realpath(path) != os.path.join(os.path.realpath(drop), *relative.parts):
        return "resolves outside its practice folder; refused"
    return None


def unsafe_files(folder: Path, drop: Path) -> list[str]:
    """'<name> <why>' for each entry of a practice folder that may not be read (see
    `outside_drop`): symbolic links, and anything whose real path leaves the folder."""
    found = []
    if folder.is_symlink():
        return [f"{folder.name}/ is a symbolic link; refused"]
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir() and not entry.is_symlink():
            continue
        problem = outside_drop(entry, drop)
        if problem:
            found.append(f"{entry.name} {problem}")
    return found


def check_file(path: Path, spec: ExportFile, practice: str, max_bytes: int,
               drop: Path | None = None) -> FileCheck:
    """Decide whether `path` can be loaded as `spec`, and with which header.

    With `drop`, the file must also be a regular file inside it (see `outside_drop`).
    """

    def verdict(status: str, message: str | None, **extra: object) -> FileCheck:
        return FileCheck(practice, spec, path, status, message, **extra)  # type: ignore[arg-type]

    if drop is not None and (refused := outside_drop(path, drop)):
        return verdict("error", refused)
    size = path.stat().st_size
    if size == 0:
        return verdict("error", "file is empty")
    if size > max_bytes:
        return verdict("error", f"file is {size} bytes, over the {max_bytes}-byte limit")
    problem, quotes, head, tail = _scan(path)
    if problem:
        return verdict("error", problem)
    if not head.strip():
        return verdict("error", "file is empty")
    if quotes % 2:
        return verdict("error", "truncated file: a quoted field is never closed")
    header = tuple(name.strip() for name in _split_line(head.decode().lstrip(_BOM).rstrip("\r\n")))
    if not tail.endswith(b"\n"):
        last = tail.rsplit(b"\n", 1)[-1].decode(errors="replace").rstrip("\r")
        fields = len(_split_line(last))
        if last and fields < len(header):
            return verdict(
                "error",
                f"truncated file: the last line has {fields} of {len(header)} fields",
            )
    missing = [name for name in spec.required if name not in header]
    if missing:
        return verdict(
            "paused",
            f"missing column(s): {', '.join(missing)} (renamed or removed?); feed paused",
            header=header,
        )
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        return verdict("paused", f"repeated column(s): {', '.join(duplicated)}; feed paused")
    extra = [name for name in header if name not in spec.columns]
    notes = [f"ignored extra column(s): {', '.join(extra)}"] if extra else []
    # A small file's tail is the whole file: nothing but blanks after the header means no rows.
    if size <= len(head) or (size <= len(tail) and not tail[len(head):].strip()):
        notes.append("header only: the file has no data rows")
    return verdict("ok", "; ".join(notes) or None, header=header, has_quotes=quotes > 0)

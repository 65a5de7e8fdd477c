"""What an ingest run did: counts per file, rolled up per practice and overall."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

COUNT_KEYS = ("rows_in", "inserted", "updated", "unchanged", "quarantined", "filtered")
AGENCY = ""  # practice_slug recorded for agency-level files (practices.csv)


@dataclass
class FileResult:
    """One file of the drop; `rows_in = inserted + updated + unchanged + quarantined + filtered`.

    `filtered` counts records read but not loaded as rows of their own: procedures whose code
    is in no catalogue category or that are not completed, resource types and tables Loopdesk
    does not load, and lookup records read only to enrich others (0 for canonical files).
    """

    practice: str
    file: str
    status: str = "ok"
    message: str | None = None
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    filtered: int = 0

    @property
    def rows_in(self) -> int:
        """Rows read from the file (zero when it was not loaded)."""
        return self.inserted + self.updated + self.unchanged + self.quarantined + self.filtered

    def counts(self) -> dict[str, int]:
        """The six counts."""
        return {key: getattr(self, key) for key in COUNT_KEYS}

    def to_json(self) -> dict[str, object]:
        """The file entry of the `--json` summary."""
        return {
            "practice": self.practice or None,
            "file": self.file,
            **self.counts(),
            "status": self.status,
            "message": self.message,
        }


@dataclass
class PracticeResult:
    """A practice folder's status and message."""

    status: str = "ok"
    message: str | None = None
    format: str | None = None  # canonical, fhir, opendental; None when it could not be told


@dataclass
class IngestSummary:
    """The outcome of one `ingest` run."""

    run_id: str
    files: list[FileResult] = field(default_factory=list)
    practices: dict[str, PracticeResult] = field(default_factory=dict)
    _by_key: dict[tuple[str, str], FileResult] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def file_result(self, practice: str, file: str) -> FileResult:
        """The result of one file, added (in first-seen order) when not there yet."""
        found = self._by_key.get((practice, file))
        if found is None and len(self._by_key) != len(self.files):  # files added directly
            found = next((f for f in self.files if (f.practice, f.file) == (practice, file)), None)
        if found is None:
            found = FileResult(practice=practice, file=file)
            self.files.append(found)
        self._by_key[(practice, file)] = found
        return found

    def totals(self, practice: str | None = None) -> dict[str, int]:
        """The six counts over every file, or over one practice's files."""
        chosen = [f for f in self.files if practice is None or f.practice == practice]
        return _sum_counts(chosen)

    def to_json(self) -> dict[str, Any]:
        """The stable `loopdesk ingest --json` document."""
        # Files grouped once: totals per practice would scan every file for every practice.
        by_practice: dict[str, list[FileResult]] = {}
        for result in self.files:
            by_practice.setdefault(result.practice, []).append(result)
        return {
            "run_id": self.run_id,
            **self.totals(),
            "practices": {
                slug: {
                    **_sum_counts(by_practice.get(slug, [])),
                    "status": result.status,
                    "message": result.message,
                    "format": result.format,
                }
                for slug, result in sorted(self.practices.items())
            },
            "files": [f.to_json() for f in self.files],
        }


def _sum_counts(files: list[FileResult]) -> dict[str, int]:
    return {
        key: sum(getattr(f, key) if key != "rows_in" else f.rows_in for f in files)
        for key in COUNT_KEYS
    }

"""Read every pre-checked file of one kind in as few CSV scans as possible, all as text.

Line numbers are physical: the header is line 1, and a quoted field holding line breaks
pushes later rows down by that many lines (counted only in files that contain quotes).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import polars as pl

from pipelines.contract import PRACTICES, ExportFile
from pipelines.precheck import FileCheck


@dataclass(frozen=True)
class Extracted:
    """Rows of one file kind (text) and the files that could not be parsed."""

    rows: pl.DataFrame
    failed: dict[str, str]  # path -> message


def _empty(spec: ExportFile) -> pl.DataFrame:
    schema = {name: pl.String for name in spec.columns}
    schema |= {"practice_slug": pl.String, "_file": pl.String, "_source_file": pl.String}
    return pl.DataFrame(schema={**schema, "_line": pl.Int64})


def _scan(checks: list[FileCheck], spec: ExportFile) -> pl.DataFrame:
    """One scan over files that share a header; contract columns, practice and line."""
    header = checks[0].header
    paths = [str(check.path) for check in checks]
    owners = pl.DataFrame(
        {
            "_path": paths,
            "_owner": [check.practice for check in checks],
            "_source_file": [
                check.spec.name if check.spec is PRACTICES else f"{check.practice}/{spec.name}"
                for check in checks
            ],
        }
    )
    frame = pl.scan_csv(
        paths,
        infer_schema=False,
        include_file_paths="_path",
        row_index_name="_row",
        truncate_ragged_lines=True,
        encoding="utf8",
    )
    # The pre-check matched the header with names trimmed (and any BOM dropped); read them alike.
    frame = frame.rename(lambda name: name.lstrip("\ufeff").strip())
    line = pl.col("_row").cast(pl.Int64) - pl.col("_row").min().over("_path").cast(pl.Int64) + 2
    if any(check.has_quotes for check in checks):
        # Quotes allow line breaks inside a field; most quoted files have none, and then the
        # running count per file (a window over every row) is not needed.
        breaks = pl.sum_horizontal(
            [pl.col(name).str.count_matches("\n", literal=True).fill_null(0) for name in header]
        )
        counted = frame.with_columns(_breaks=breaks).collect()
        if counted["_breaks"].sum():
            line = line + pl.col("_breaks").cum_sum().over("_path") - pl.col("_breaks")
        frame = counted.lazy()
    frame = frame.with_columns(_line=line)
    names = [name for name in spec.columns if name != "practice_slug"]
    # An optional contract column may be absent from the header: it reads as blank.
    columns = [
        pl.col(name) if name in header else pl.lit(None, dtype=pl.String).alias(name)
        for name in names
    ]
    practice = (pl.col("practice_slug") if spec is PRACTICES else pl.col("_owner")).alias(
        "practice_slug"
    )
    return (
        frame.join(owners.lazy(), on="_path", how="left", maintain_order="left")
        .select(
            *columns,
            practice,
            pl.lit(spec.name).alias("_file"),
            pl.col("_source_file"),
            pl.col("_line"),
        )
        .collect()
    )


def extract(checks: list[FileCheck], spec: ExportFile) -> Extracted:
    """Rows of every loadable file in `checks`; a file that fails to parse is set aside."""
    groups: dict[tuple[str, ...], list[FileCheck]] = defaultdict(list)
    for check in checks:
        if check.loadable:
            groups[check.header].append(check)
    frames = [_empty(spec)]
    failed: dict[str, str] = {}
    for group in groups.values():
        try:
            frames.append(_scan(group, spec))
        except pl.exceptions.PolarsError:
            # Find the culprit(s) one file at a time; the others still load.
            for check in group:
                try:
                    frames.append(_scan([check], spec))
                except pl.exceptions.PolarsError as error:
                    failed[str(check.path)] = _describe(error)
    return Extracted(rows=pl.concat(frames, how="diagonal_relaxed"), failed=failed)


def _describe(error: Exception) -> str:
    """A data-free description of a parse failure (messages may quote cell contents)."""
    text = str(error).lower()
    if "utf-8" in text or "utf8" in text:
        return "not UTF-8 text"
    return f"could not be parsed as CSV ({type(error).__name__})"

"""Malformed-but-JSON FHIR resources never crash the reader: each line becomes a row, a
quarantine row or a filtered count, and validation accepts every frame it hands over."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.catalogue import shipped_catalogue
from pipelines.contract import PATIENTS, TREATMENTS
from pipelines.source_fhir import read_fhir
from pipelines.validate import check_rows

scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=6)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                              max_size=3),
    max_leaves=8,
)
FIELDS = {
    "Patient": ("id", "name", "telecom", "meta", "deceasedBoolean", "deceasedDateTime"),
    "Procedure": ("id", "status", "code", "subject", "performedDateTime", "performedPeriod",
                  "encounter"),
    "Claim": ("procedure", "item"),
    "Consent": ("status", "patient", "provision", "dateTime"),
    "Encounter": ("id", "period"),
}


def resource(kind: str) -> st.SearchStrategy[dict[str, object]]:
    return st.fixed_dictionaries(
        {"resourceType": st.just(kind)},
        optional={name: values for name in FIELDS[kind]},
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(sorted(FIELDS)).flatmap(resource), max_size=12))
def test_any_resource_shape_is_accounted_for(resources: list[dict[str, object]]) -> None:
    with TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for kind in FIELDS:
            lines = [json.dumps(r) for r in resources if r["resourceType"] == kind]
            (folder / f"{kind}.ndjson").write_text("".join(line + "\n" for line in lines))
        read = read_fhir(folder, "p", shipped_catalogue(), max_file_bytes=10**9)
    rows = sum(frame.height for frame in read.rows.values())
    assert rows + read.quarantined.height + sum(read.filtered.values()) == len(resources)
    now = datetime(2026, 11, 26, tzinfo=UTC)
    for spec in (PATIENTS, TREATMENTS):
        frame = read.rows[spec.name].with_columns(timezone=pl.lit("UTC"))
        checked = check_rows(frame, spec, now=now)
        assert checked.good.height + checked.bad.height == read.rows[spec.name].height

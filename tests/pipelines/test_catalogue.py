"""The shipped treatment-code catalogue and its lookups."""

from __future__ import annotations

from pathlib import Path

from pipelines.catalogue import normalise_system, practice_catalogue, shipped_catalogue
from pipelines.contract import TREATMENT_CATEGORIES


def test_shipped_catalogue_covers_the_high_ticket_codes() -> None:
    catalogue = shipped_catalogue()
    category = {key: entry.category for key, entry in catalogue.entries.items()}
    assert all(c in TREATMENT_CATEGORIES for c in category.values())
    assert all(category[("CDT", f"D{n}")] == "implant" for n in range(6010, 6200))
    assert all(category[("CDT", f"D{n}")] == "cosmetic_dental" for n in (2960, 2961, 2962))
    assert all(category[("CDT", f"D{n}")] == "whitening" for n in (9972, 9973, 9974, 9975))
    assert all(category[("CDT", f"D{n}")] == "orthodontic" for n in (8070, 8080, 8090))
    by_system: dict[str, set[str]] = {}
    for (system, _), name in category.items():
        by_system.setdefault(system, set()).add(name)
    assert {"surgical_face", "surgical_body", "refractive", "hair_restoration"} <= by_system["CPT"]
    assert {"surgical_face", "surgical_body", "injectable"} <= by_system["SNOMED"]
    assert all(e.value is not None and e.value > 0 for e in catalogue.entries.values())


def test_lookups_by_fhir_system_uri_and_table_code() -> None:
    catalogue = shipped_catalogue()
    assert normalise_system(" http://snomed.info/sct ") == "SNOMED"
    assert normalise_system("urn:oid:2.16.840.1.113883.6.12") == "CPT"
    entry = catalogue.lookup("http://snomed.info/sct", "62961003")
    assert entry is not None and entry.category == "surgical_face"
    assert catalogue.lookup("http://example.org/local", "62961003") is None
    assert catalogue.lookup_table_code("S0800").category == "refractive"  # type: ignore[union-attr]
    assert catalogue.lookup_table_code("D1110") is None  # a prophylaxis: not worked on


def test_practice_catalogue_file_problems_are_reported(tmp_path: Path) -> None:
    (tmp_path / "catalogue.csv").write_text("code,category\nX1,implant\n")
    catalogue = practice_catalogue(tmp_path)
    assert catalogue.problems == ["catalogue.csv: missing column(s) system; not used"]
    assert catalogue.lookup_table_code("D6010") is not None  # the shipped one still applies

"""Fixed reference data for the generator: demo practices, cities, and the treatment catalogue."""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.contract import SPECIALTIES, TREATMENT_CATEGORIES


@dataclass(frozen=True)
class City:
    """A US metro: slug prefix, display name, IANA zone and local area codes."""

    slug: str
    name: str
    timezone: str
    area_codes: tuple[int, ...]


CITIES: tuple[City, ...] = (
    City("chicago", "Chicago", "America/Chicago", (312, 773, 872)),
    City("phoenix", "Phoenix", "America/Phoenix", (602, 480, 623)),
    City("denver", "Denver", "America/Denver", (303, 720)),
    City("new-york", "New York", "America/New_York", (212, 646, 917)),
    City("los-angeles", "Los Angeles", "America/Los_Angeles", (213, 310, 323)),
    City("miami", "Miami", "America/New_York", (305, 786)),
    City("dallas", "Dallas", "America/Chicago", (214, 469, 972)),
    City("seattle", "Seattle", "America/Los_Angeles", (206, 425)),
    City("boston", "Boston", "America/New_York", (617, 857)),
    City("salt-lake-city", "Salt Lake City", "America/Denver", (801, 385)),
    City("scottsdale", "Scottsdale", "America/Phoenix", (480,)),
    City("minneapolis", "Minneapolis", "America/Chicago", (612, 651)),
    City("atlanta", "Atlanta", "America/New_York", (404, 678)),
    City("san-diego", "San Diego", "America/Los_Angeles", (619, 858)),
    City("houston", "Houston", "America/Chicago", (713, 281, 832)),
    City("portland", "Portland", "America/Los_Angeles", (503, 971)),
)


@dataclass(frozen=True)
class DemoPractice:
    """One of the named demo practices (city index into CITIES)."""

    slug: str
    name: str
    specialty: str
    city: int


# The dozen practices a newcomer sees first; the brief names the first three.
DEMO_PRACTICES: tuple[DemoPractice, ...] = (
    DemoPractice("lakeshore-dental-implants", "Lakeshore Dental Implants", "dental_implants", 0),
    DemoPractice("desert-bloom-med-spa", "Desert Bloom Med Spa", "med_spa", 1),
    DemoPractice("front-range-lasik", "Front Range LASIK", "lasik", 2),
    DemoPractice("hudson-orthodontics", "Hudson Orthodontics", "orthodontics", 3),
    DemoPractice("pacific-smile-studio", "Pacific Smile Studio", "cosmetic_dentistry", 4),
    DemoPractice("brickell-plastic-surgery", "Brickell Plastic Surgery", "plastic_surgery", 5),
    DemoPractice("lone-star-hair-restoration", "Lone Star Hair Restoration", "hair_restoration", 6),
    DemoPractice("emerald-city-med-spa", "Emerald City Med Spa", "med_spa", 7),
    DemoPractice("beacon-hill-implant-center", "Beacon Hill Implant Center", "dental_implants", 8),
    DemoPractice("wasatch-vision-lasik", "Wasatch Vision LASIK", "lasik", 9),
    DemoPractice(
        "camelback-aesthetic-surgery", "Camelback Aesthetic Surgery", "plastic_surgery", 10
    ),
    DemoPractice("twin-cities-orthodontics", "Twin Cities Orthodontics", "orthodontics", 11),
)

SPECIALTY_LABELS: dict[str, str] = {
    "dental_implants": "Dental Implants",
    "orthodontics": "Orthodontics",
    "cosmetic_dentistry": "Cosmetic Dentistry",
    "med_spa": "Med Spa",
    "plastic_surgery": "Plastic Surgery",
    "lasik": "LASIK",
    "hair_restoration": "Hair Restoration",
}


@dataclass(frozen=True)
class CatalogueItem:
    """A treatment code: its category, description and value range in USD."""

    code: str
    category: str
    description: str
    low: float
    high: float


# Exactly two codes per category, in TREATMENT_CATEGORIES order (the generator relies on it).
CATALOGUE: tuple[CatalogueItem, ...] = (
    CatalogueItem("IMP-SGL", "implant", "Single implant crown", 3_000, 6_500),
    CatalogueItem("IMP-ARCH", "implant", "Full-arch implant bridge", 18_000, 30_000),
    CatalogueItem("ORTHO-BRC", "orthodontic", "Braces off", 4_500, 8_000),
    CatalogueItem("ORTHO-ALN", "orthodontic", "Clear aligner finish", 4_000, 7_000),
    CatalogueItem("COS-VEN", "cosmetic_dental", "Porcelain veneers", 8_000, 18_000),
    CatalogueItem("COS-SMILE", "cosmetic_dental", "Smile makeover", 15_000, 25_000),
    CatalogueItem("WHT-OFF", "whitening", "In-office whitening", 500, 800),
    CatalogueItem("WHT-PLUS", "whitening", "Whitening with take-home trays", 700, 1_000),
    CatalogueItem("INJ-TOX", "injectable", "Neurotoxin", 400, 900),
    CatalogueItem("INJ-FILL", "injectable", "Dermal filler", 700, 2_000),
    CatalogueItem("LSR-CO2", "laser_skin", "CO2 laser resurfacing", 2_000, 4_000),
    CatalogueItem("LSR-IPL", "laser_skin", "IPL photofacial series", 1_500, 2_500),
    CatalogueItem("BOD-CRYO", "body_contouring", "Non-surgical fat reduction", 2_000, 4_500),
    CatalogueItem("BOD-RF", "body_contouring", "Radio-frequency body contouring", 3_000, 6_000),
    CatalogueItem("SRG-RHINO", "surgical_face", "Rhinoplasty", 8_000, 14_000),
    CatalogueItem("SRG-LIFT", "surgical_face", "Facelift", 12_000, 20_000),
    CatalogueItem("SRG-BREAST", "surgical_body", "Breast augmentation", 7_000, 12_000),
    CatalogueItem("SRG-TUCK", "surgical_body", "Abdominoplasty", 9_000, 15_000),
    CatalogueItem("REF-LASIK", "refractive", "LASIK, both eyes", 4_000, 6_000),
    CatalogueItem("REF-PRK", "refractive", "PRK, both eyes", 4_000, 5_500),
    CatalogueItem("HAIR-FUE", "hair_restoration", "FUE hair transplant", 8_000, 15_000),
    CatalogueItem("HAIR-FUT", "hair_restoration", "FUT hair transplant", 8_000, 13_000),
)

# Share of each category in a specialty's treatments (rows follow SPECIALTIES, columns
# TREATMENT_CATEGORIES); every row sums to 1.
_MIX: dict[str, dict[str, float]] = {
    "dental_implants": {"implant": 0.85, "whitening": 0.05, "cosmetic_dental": 0.10},
    "orthodontics": {"orthodontic": 0.85, "whitening": 0.15},
    "cosmetic_dentistry": {"cosmetic_dental": 0.60, "whitening": 0.25, "implant": 0.15},
    "med_spa": {"injectable": 0.50, "laser_skin": 0.30, "body_contouring": 0.20},
    "plastic_surgery": {"surgical_face": 0.40, "surgical_body": 0.45, "injectable": 0.15},
    "lasik": {"refractive": 1.0},
    "hair_restoration": {"hair_restoration": 0.85, "injectable": 0.15},
}


def category_mix() -> list[list[float]]:
    """The specialty × category share matrix."""
    return [
        [_MIX[specialty].get(category, 0.0) for category in TREATMENT_CATEGORIES]
        for specialty in SPECIALTIES
    ]


def typical_case_value(specialty: str) -> float:
    """The mean value of a specialty's treatments, used for booked lead values."""
    total = 0.0
    for category, share in _MIX[specialty].items():
        items = [item for item in CATALOGUE if item.category == category]
        total += share * sum((item.low + item.high) / 2 for item in items) / len(items)
    return total

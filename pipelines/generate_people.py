"""Synthetic people for the generator: names, US phones, emails and consent, drawn in bulk."""

from __future__ import annotations

import numpy as np
import polars as pl
from polars.expr.whenthen import ChainedThen, Then


def _words(text: str) -> tuple[str, ...]:
    """The space-separated words of `text`."""
    return tuple(text.split())


FIRST_NAMES = _words(
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Christopher Karen Charles Lisa Daniel Nancy "
    "Matthew Betty Anthony Sandra Mark Margaret Donald Ashley Steven Kimberly Andrew Emily "
    "Paul Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah "
    "Timothy Stephanie Ronald Rebecca Jason Sharon Edward Laura Jeffrey Cynthia Ryan Amy "
    "Jacob Kathleen Gary Angela Nicholas Shirley Eric Brenda Jonathan Emma Stephen Anna "
    "Larry Pamela Justin Nicole Scott Samantha Brandon Katherine Benjamin Christine Samuel "
    "Debra Gregory Rachel Alexander Carolyn Patrick Janet Frank Maria Raymond Olivia Jack "
    "Heather Dennis Helen Jerry Catherine Tyler Diane Aaron Julie Jose Victoria Adam Joyce "
    "Nathan Lauren Henry Kelly Zachary Christina Douglas Ruth Peter Joan Kyle Virginia Noah "
    "Judith Ethan Evelyn Jeremy Hannah Walter Andrea Christian Megan Keith Cheryl Roger "
    "Jacqueline Terry Martha Austin Madison Sean Teresa Gerald Gloria Carl Sara Harold Janice "
    "Dylan Ann Arthur Kathryn Lawrence Abigail Jordan Sophia Jesse Frances Bryan Jean Billy "
    "Alice Bruce Judy Gabriel Isabella Joe Julia Logan Grace Alan Amber Juan Denise Albert "
    "Danielle Willie Marilyn Elijah Beverly Wayne Charlotte Randy Natalie Vincent Theresa "
    "Mason Diana Roy Brittany Ralph Doris Bobby Kayla Russell Alexis Bradley Lori Philip "
    "Marie Eugene Priya Wei Mohammed Aisha Mateo Sofia Hiroshi Yuki Carlos Lucia"
)

LAST_NAMES = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
    "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
    "Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter "
    "Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart "
    "Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed "
    "Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray "
    "Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez "
    "Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales "
    "Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds "
    "Griffin Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar "
    "Stevens Murray Ford Castro Marshall Owens Harrison Fernandez McDonald Woods Washington "
    "Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson "
    "Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer "
    "Wagner Black Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt "
    "Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley "
    "Spencer Hawkins Arnold Pierce Vazquez Hansen Peters Santos Hart Bradley Knight Elliott "
    "Cunningham Duncan Armstrong Hudson Carroll Lane Riley Andrews Alvarado Ray Delgado Berry "
    "Perkins Hoffman Johnston Matthews Pena Richards Contreras Willis Carpenter Lawrence "
    "Sandoval Okafor Yamamoto Kowalski Novak Rossi Schultz Dubois Ivanova Haddad Shah"
)

EMAIL_DOMAINS = ("example.com", "example.org", "example.net")


def pick(rng: np.random.Generator, values: tuple[str, ...] | list[str], size: int) -> pl.Series:
    """`size` values drawn uniformly from `values`."""
    return pl.Series(values, dtype=pl.String).gather(rng.integers(0, len(values), size))


def draw_names(rng: np.random.Generator, size: int) -> pl.DataFrame:
    """First and last names."""
    return pl.DataFrame(
        {"first_name": pick(rng, FIRST_NAMES, size), "last_name": pick(rng, LAST_NAMES, size)}
    )


def draw_phones(rng: np.random.Generator, area_codes: np.ndarray, blank_share: float) -> pl.Series:
    """US phone numbers in the practice's area code, written in the mix of styles exports use."""
    size = len(area_codes)
    area = pl.Series(area_codes.astype(np.int64)).cast(pl.String)
    exchange = pl.Series(rng.integers(201, 999, size)).cast(pl.String)
    line = pl.Series(rng.integers(0, 10_000, size)).cast(pl.String).str.zfill(4)
    style = pl.Series(rng.integers(0, 4, size))
    blank = pl.Series(rng.random(size) < blank_share)
    frame = pl.DataFrame({"a": area, "e": exchange, "l": line, "s": style, "b": blank})
    return frame.select(
        pl.when(pl.col("b"))
        .then(pl.lit(None, dtype=pl.String))
        .when(pl.col("s") == 0)
        .then(pl.format("({}) {}-{}", "a", "e", "l"))
        .when(pl.col("s") == 1)
        .then(pl.format("{}-{}-{}", "a", "e", "l"))
        .when(pl.col("s") == 2)
        .then(pl.format("+1 {} {} {}", "a", "e", "l"))
        .otherwise(pl.format("{}{}{}", "a", "e", "l"))
        .alias("phone")
    ).to_series()


def draw_emails(rng: np.random.Generator, names: pl.DataFrame, blank_share: float) -> pl.Series:
    """Emails at reserved example domains, built from the person's name."""
    size = names.height
    frame = names.with_columns(
        n=pl.Series(rng.integers(1, 999, size)).cast(pl.String),
        d=pick(rng, EMAIL_DOMAINS, size),
        b=pl.Series(rng.random(size) < blank_share),
    )
    return frame.select(
        pl.when(pl.col("b"))
        .then(pl.lit(None, dtype=pl.String))
        .otherwise(pl.format("{}.{}{}@{}", "first_name", "last_name", "n", "d").str.to_lowercase())
        .alias("email")
    ).to_series()


# Each practice's software writes booleans its own way; ingest must read every style.
BOOL_STYLES: tuple[tuple[str, str], ...] = (
    ("true", "false"),
    ("Y", "N"),
    ("yes", "no"),
    ("1", "0"),
    ("TRUE", "FALSE"),
)


def format_bool(flag: pl.Expr, style: pl.Expr) -> pl.Expr:
    """Write a boolean in the style numbered `style` (an index into BOOL_STYLES)."""
    expr: Then | ChainedThen = pl.when(pl.lit(False)).then(pl.lit(None, dtype=pl.String))
    for index, (yes, no) in enumerate(BOOL_STYLES):
        expr = expr.when(style == index).then(pl.when(flag).then(pl.lit(yes)).otherwise(pl.lit(no)))
    return expr.otherwise(pl.when(flag).then(pl.lit("true")).otherwise(pl.lit("false")))

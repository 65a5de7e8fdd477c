"""Column types and helpers shared by the store's tables (kept apart from the engine: no cycle)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, String, literal_column
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Normalise to UTC; SQLite gets a naive UTC value so string comparison orders correctly."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to what comes back."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class StatusText(String):
    """A short status column whose comparisons with one of `values` render the value as an
    inline SQL literal (`status = 'open'`), not a bound parameter.

    Partial indexes (`... WHERE status = 'open'`, console/models/work.py) are only usable by
    a plan that can prove the query's condition implies the index's: a bound `status = $1`
    cannot (PostgreSQL's generic plans of prepared statements, which psycopg prepares after
    five executions, and every SQLite statement), a literal can. The values are a closed set
    of constant identifiers (an enum's), never user input; any other value stays bound.
    """

    cache_ok = True

    def __init__(self, length: int, values: tuple[str, ...]) -> None:
        super().__init__(length)
        self.values = values

    class comparator_factory(String.Comparator[str]):
        """`==` / `!=` against a known status value compare with a literal."""

        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            if (op in (operators.eq, operators.ne) and len(other) == 1
                    and isinstance(other[0], str)
                    and other[0] in getattr(self.type, "values", ())
                    and other[0].isidentifier()):
                return op(self.expr, literal_column(f"'{other[0]}'", String()))
            return super().operate(op, *other, **kwargs)


def columns(*attributes: Any) -> list[Any]:
    """Model attributes as a plain list for a many-column `select` (sidesteps typing overloads)."""
    return list(attributes)

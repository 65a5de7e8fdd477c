"""Who may see what: the tenant scope every read-side query function takes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    """The practices an acting user may read; built server-side from the user's identity.

    `agency_wide` is for managers and admins (every practice); otherwise only
    `practice_slugs`. An empty scope sees nothing.
    """

    practice_slugs: frozenset[str] = frozenset()
    agency_wide: bool = False

    @classmethod
    def of(cls, slugs: Iterable[str]) -> Scope:
        """A scope limited to the given practices."""
        return cls(practice_slugs=frozenset(slugs))

    @classmethod
    def agency(cls) -> Scope:
        """The whole agency (managers, admins, the pipeline itself)."""
        return cls(agency_wide=True)

    def allows(self, practice_slug: str) -> bool:
        """Whether this scope may read the given practice."""
        return self.agency_wide or practice_slug in self.practice_slugs

    def restrict(self, slugs: Iterable[str]) -> list[str]:
        """The given practices, less those this scope may not read."""
        return sorted(slug for slug in set(slugs) if self.allows(slug))

"""What a caller may see: the one value every feature repository query takes.

A `Scope` is the set of library ids whose media the caller may see. It is derived once per
request from the current user's grants (auth/scope.py) and never cached beyond the
request, so a grant or a revoke shows on the very next request, on every replica. Admins
are no exception: they manage every library, but see the media of granted ones only.

Repositories turn it into SQL with `Scope.where(column)` (a library id column), so the
rule lives here and not in routers. Internal work (drains, the watcher, maintenance) does
not go through a scope: it is not a caller.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, false

from imageserver.errors import NotFound


@dataclass(frozen=True)
class Scope:
    library_ids: frozenset[int]

    @classmethod
    def of(cls, library_ids: Iterable[int]) -> Scope:
        return cls(frozenset(int(i) for i in library_ids))

    @classmethod
    def nothing(cls) -> Scope:
        return cls(frozenset())

    @property
    def empty(self) -> bool:
        return not self.library_ids

    def sees(self, library_id: int | None) -> bool:
        return library_id is not None and library_id in self.library_ids

    def narrowed(self, wanted: Iterable[int]) -> Scope:
        """The part of this scope a request asked for (all of it when it asked for none)."""
        asked = frozenset(wanted)
        return self if not asked else Scope(self.library_ids & asked)

    def narrow(self, wanted: Iterable[int]) -> Scope:
        """A `library=` filter applied to the scope: a library outside it is "not found",
        with the very message a library that does not exist gets (existence stays hidden)."""
        outside = sorted(set(wanted) - self.library_ids)
        if outside:
            raise NotFound(f"library {outside[0]} not found")
        return self.narrowed(wanted)

    def where(self, library_id_column: ColumnElement[int]) -> ColumnElement[bool]:
        """SQL: the row's library is in scope (a constant false for an empty scope)."""
        if not self.library_ids:
            return false()
        return library_id_column.in_(sorted(self.library_ids))

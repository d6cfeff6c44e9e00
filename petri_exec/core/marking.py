"""Markings: how many tokens each place of a net holds, and the not-enabled error.

A :class:`Marking` is an immutable mapping (places without tokens are absent), hashable so
that state spaces can store it. :func:`not_enabled` builds the one error every firing path
raises when a transition lacks tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

from ..errors import NotEnabledError

if TYPE_CHECKING:
    from .net import Transition

__all__ = ["Marking", "not_enabled"]


class Marking(Mapping[str, int]):
    """An immutable marking: place name -> token count (places without tokens are absent).

    Use ``m.get(place, 0)`` for a count that may be zero.
    """

    __slots__ = ("_counts", "_hash")

    def __init__(self, counts: Mapping[str, int] | Iterable[tuple[str, int]] = ()) -> None:
        items = counts.items() if isinstance(counts, Mapping) else counts
        tokens: dict[str, int] = {}
        for place, n in items:
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise ValueError(
                    f"token count {n!r} for place {place!r} must be a non-negative integer"
                )
            if n:
                tokens[place] = n
        self._counts = tokens
        self._hash: int | None = None

    @classmethod
    def _of(cls, tokens: dict[str, int]) -> Marking:
        """A marking over ``tokens`` (positive ints, owned by the marking): no checks."""
        m = cls.__new__(cls)
        m._counts = tokens
        m._hash = None
        return m

    def __getitem__(self, place: str) -> int:
        return self._counts[place]

    def __iter__(self) -> Iterator[str]:
        return iter(self._counts)

    def __len__(self) -> int:
        return len(self._counts)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._counts.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Marking):
            return self._counts == other._counts
        if isinstance(other, Mapping):
            return self._counts == {k: v for k, v in other.items() if v}
        return NotImplemented

    def __repr__(self) -> str:
        inner = ", ".join(f"{k!r}: {v}" for k, v in self._counts.items())
        return f"Marking({{{inner}}})"


def not_enabled(t: Transition, lacking: list[tuple[str, int, int]]) -> NotEnabledError:
    """The error for firing ``t`` while it lacks tokens."""
    parts = ", ".join(
        f"{place} (needs {need}, has {have})" if need > 1 or have else place
        for place, need, have in lacking
    )
    return NotEnabledError(
        f"transition {t.name!r} is not enabled: missing tokens in {parts}; fire what "
        f"produces them first (petri-exec why RUN {t.name} explains the chain)"
    )

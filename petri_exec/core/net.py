"""Place/transition nets with read arcs, markings, effects, and incremental enabling.

The net is a pure value. :class:`NetState` is the one live object: a marking plus,
per transition, a graphlib-style counter of arcs whose tokens are missing, so that
firing a transition updates enabling by looking only at the places it touches
(its neighbourhood), never by scanning the net.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from ..errors import UnknownTransitionError
from .marking import Marking, not_enabled
from .netstate import NetState

__all__ = ["Arc", "Effect", "Net", "Transition"]

#: An arc as ``(place index, weight)``.
Arc = tuple[int, int]


@attrs.frozen(cache_hash=True)
class Transition:
    """A transition of a net (a step of a run).

    Equality and hashing use the name and the step's description, never the arcs, so the
    same transition compares equal in a run's Petri net and in its degenerate linear net.

    Attributes:
        name: ``<step>`` for run steps, ``<step>:<slice_id>`` for slice steps.
        step: The template step's name.
        slice_id: The slice it belongs to, or None for run steps.
        port: The port the step calls, or None.
        handler: The built-in handler, or None.
        manual: A human gate: never returned by ``ready()``; fired only by ``fire()``.
        index: Position in the net's transition list (file order: breaks every tie).
    """

    name: str
    step: str
    slice_id: str | None = None
    port: str | None = None
    handler: str | None = None
    manual: bool = False
    index: int = attrs.field(default=0, eq=False, repr=False)


@attrs.frozen
class Effect:
    """What firing a transition does, computed before it is committed.

    Attributes:
        transition: The transition.
        consumed: ``(place, weight)`` pairs taken.
        produced: ``(place, weight)`` pairs added.
        read: ``(place, weight)`` pairs tested and left in place.
    """

    transition: Transition
    consumed: tuple[tuple[str, int], ...]
    produced: tuple[tuple[str, int], ...]
    read: tuple[tuple[str, int], ...]


def _norm(arcs: Iterable[Arc], combine: Any) -> tuple[Arc, ...]:
    merged: dict[int, int] = {}
    for p, w in arcs:
        if w < 1:
            raise ValueError(f"arc weight {w!r} must be at least 1")
        merged[p] = combine(merged[p], w) if p in merged else w
    return tuple(merged.items())


def _add(a: int, b: int) -> int:
    return a + b


class Net:
    """A place/transition net with weighted consuming, producing and read (test) arcs.

    Attributes:
        places: Place names in order.
        transitions: Transitions in order (``transitions[i].index == i``).
        consume: Per transition, its consuming arcs ``(place index, weight)``.
        produce: Per transition, its producing arcs.
        read: Per transition, its read arcs (tested, not consumed).
    """

    __slots__ = (
        "_by_name",
        "_effects",
        "_place_index",
        "_sources",
        "_watch",
        "consume",
        "name",
        "places",
        "produce",
        "read",
        "transitions",
    )

    def __init__(
        self,
        places: Sequence[str],
        transitions: Sequence[Transition],
        consume: Sequence[Iterable[Arc]],
        produce: Sequence[Iterable[Arc]],
        read: Sequence[Iterable[Arc]],
        *,
        name: str = "net",
        check: bool = True,
    ) -> None:
        """Build a net.

        Args:
            places: Unique place names.
            transitions: Unique-named transitions; their ``index`` is reset to the position.
            consume: Per transition, consuming arcs as ``(place index, weight)``.
            produce: Per transition, producing arcs.
            read: Per transition, read arcs.
            name: The net's name.
            check: Merge duplicate arcs and check indexes and weights (the compiler, whose
                output is already normal, passes False).

        Raises:
            ValueError: Duplicate names, bad indexes or weights, or mismatched lengths.
        """
        n = len(transitions)
        if not (len(consume) == len(produce) == len(read) == n):
            raise ValueError("consume, produce and read need one entry per transition")
        self.name = name
        self.places = tuple(places)
        self._place_index = {p: i for i, p in enumerate(self.places)}
        if len(self._place_index) != len(self.places):
            raise ValueError("place names must be unique")
        self.transitions = tuple(
            t if t.index == i else attrs.evolve(t, index=i) for i, t in enumerate(transitions)
        )
        self._by_name = {t.name: t for t in self.transitions}
        if len(self._by_name) != n:
            raise ValueError("transition names must be unique")
        nplaces = len(self.places)
        if check:
            self.consume = tuple(_norm(a, _add) for a in consume)
            self.produce = tuple(_norm(a, _add) for a in produce)
            self.read = tuple(_norm(a, max) for a in read)
            for i in range(n):
                for p, _ in (*self.consume[i], *self.read[i], *self.produce[i]):
                    if not 0 <= p < nplaces:
                        raise ValueError(
                            f"transition {self.transitions[i].name!r}: bad place {p}"
                        )
        else:
            self.consume = tuple(consume)  # type: ignore[arg-type]
            self.produce = tuple(produce)  # type: ignore[arg-type]
            self.read = tuple(read)  # type: ignore[arg-type]
        watch: list[list[Arc]] = [[] for _ in range(nplaces)]
        sources: list[int] = []
        for i, (cons, rd) in enumerate(zip(self.consume, self.read, strict=True)):
            for p, w in cons:
                watch[p].append((i, w))
            for p, w in rd:
                watch[p].append((i, w))
            if not cons and not rd:
                sources.append(i)
        self._watch = watch
        self._sources = tuple(sources)
        self._effects: list[Effect | None] = [None] * n

    def __repr__(self) -> str:
        return (
            f"Net({self.name!r}, {self._place_count()} places, "
            f"{len(self.transitions)} transitions)"
        )

    def _place_count(self) -> int:
        return len(self.places)

    def place_index(self, place: str) -> int:
        """Index of a place.

        Raises:
            KeyError: No such place.
        """
        return self._place_index[place]

    def watchers(self, place: int) -> tuple[Arc, ...]:
        """``(transition index, weight)`` of every consuming or read arc from ``place``."""
        return tuple(self._watch[place])

    def transition(self, name: str) -> Transition:
        """The transition called ``name``.

        Raises:
            UnknownTransitionError: No such transition (the message suggests close names).
        """
        t = self._by_name.get(name)
        if t is None:
            import difflib

            close = difflib.get_close_matches(name, list(self._by_name), n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise UnknownTransitionError(f"net {self.name!r} has no transition {name!r}{hint}")
        return t

    def _own(self, t: Transition | str) -> int:
        if isinstance(t, str):
            return self.transition(t).index
        i = t.index
        ts = self.transitions
        if i < len(ts) and ts[i] is t:
            return i
        found = self.transition(t.name)
        if found != t:
            raise UnknownTransitionError(f"{t!r} is not a transition of net {self.name!r}")
        return found.index

    def _arcs_named(self, arcs: tuple[Arc, ...]) -> tuple[tuple[str, int], ...]:
        return tuple((self.places[p], w) for p, w in arcs)

    def effect(self, t: Transition | str) -> Effect:
        """What firing ``t`` consumes, produces and reads.

        Raises:
            UnknownTransitionError: ``t`` is not in this net.
        """
        i = self._own(t)
        effect = self._effects[i]
        if effect is None:
            effect = self._effects[i] = Effect(
                self.transitions[i],
                self._arcs_named(self.consume[i]),
                self._arcs_named(self.produce[i]),
                self._arcs_named(self.read[i]),
            )
        return effect

    def missing(
        self, t: Transition | str, marking: Mapping[str, int]
    ) -> list[tuple[str, int, int]]:
        """The tokens ``t`` lacks at ``marking``.

        Returns:
            ``(place, needed, present)`` for each unsatisfied arc; empty when enabled.
        """
        i = self._own(t)
        out = []
        for p, w in (*self.consume[i], *self.read[i]):
            have = marking.get(self.places[p], 0)
            if have < w:
                out.append((self.places[p], w, have))
        return out

    def is_enabled(self, t: Transition | str, marking: Mapping[str, int]) -> bool:
        """Whether ``t`` may fire at ``marking`` (manual transitions included)."""
        i = self._own(t)
        places = self.places
        return all(marking.get(places[p], 0) >= w for p, w in self.consume[i]) and all(
            marking.get(places[p], 0) >= w for p, w in self.read[i]
        )

    def enabled(self, marking: Mapping[str, int]) -> frozenset[Transition]:
        """Every transition enabled at ``marking``, manual ones included. Pure.

        Only transitions next to a marked place (and those with no input) are examined.
        """
        candidates: set[int] = set(self._sources)
        for place in marking:
            p = self._place_index.get(place)
            if p is not None and marking[place] > 0:
                candidates.update(i for i, _ in self._watch[p])
        places = self.places
        return frozenset(
            self.transitions[i]
            for i in candidates
            if all(marking.get(places[p], 0) >= w for p, w in self.consume[i])
            and all(marking.get(places[p], 0) >= w for p, w in self.read[i])
        )

    def fire(self, marking: Mapping[str, int], t: Transition | str) -> Marking:
        """The marking after firing ``t`` at ``marking``. Pure.

        Raises:
            NotEnabledError: ``t`` is not enabled; the message names the missing tokens.
        """
        i = self._own(t)
        lacking = self.missing(self.transitions[i], marking)
        if lacking:
            raise not_enabled(self.transitions[i], lacking)
        counts = dict(marking)
        for p, w in self.consume[i]:
            counts[self.places[p]] -= w
        for p, w in self.produce[i]:
            counts[self.places[p]] = counts.get(self.places[p], 0) + w
        return Marking(counts)

    def state(self, marking: Mapping[str, int]) -> NetState:
        """A live :class:`~petri_exec.core.netstate.NetState` of this net at ``marking``."""
        return NetState(self, marking)

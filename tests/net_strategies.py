"""Hypothesis strategies for general place/transition nets (weights, conflicts, read arcs)."""

from __future__ import annotations

from hypothesis import strategies as st

import petri_exec as pe

Arcs = list[tuple[int, int]]


@st.composite
def general_nets(draw: st.DrawFn, *, max_places: int = 5, max_transitions: int = 5,
                 max_weight: int = 3, max_tokens: int = 4) -> tuple[pe.Net, pe.Marking]:
    """A random general net and marking.

    Weights up to ``max_weight``, several tokens per place, transitions competing for the
    same places, read arcs (also on places the transition consumes or produces), sources
    and sinks.
    """
    np_ = draw(st.integers(1, max_places))
    nt = draw(st.integers(1, max_transitions))
    places = [f"p{i}" for i in range(np_)]
    weight = st.integers(1, max_weight)

    def arcs(max_size: int) -> Arcs:
        picked = draw(st.lists(st.integers(0, np_ - 1), max_size=max_size, unique=True))
        return [(p, draw(weight)) for p in picked]

    consume, produce, read = [], [], []
    for _ in range(nt):
        consume.append(arcs(3))
        produce.append(arcs(3))
        read.append(arcs(2))
    transitions = [pe.Transition(f"t{i}", f"t{i}") for i in range(nt)]
    net = pe.Net(places, transitions, consume, produce, read, name="random")
    marking = pe.Marking({p: draw(st.integers(0, max_tokens)) for p in places})
    return net, marking


def snakes_marking(sn: object) -> dict[str, int]:
    """A SNAKES net's marking as place -> token count."""
    return {p.name: len(p.tokens) for p in sn.place() if len(p.tokens)}  # type: ignore[attr-defined]


def snakes_enabled(sn: object) -> set[str]:
    """Names of the SNAKES net's enabled transitions.

    SNAKES' enabling rule is ``modes()`` (the bindings its input arcs accept, test arcs
    included; ``enabled(binding)`` does not count a test arc's tokens). A transition without
    input arcs has no binding to enumerate, so ``modes()`` is empty although it is enabled:
    for those, ask ``enabled(Substitution())`` (the guard, here always True).
    """
    from snakes.nets import Substitution

    return {t.name for t in sn.transition()  # type: ignore[attr-defined]
            if (t.modes() if t.input() else t.enabled(Substitution()))}


def snakes_fire(sn: object, name: str) -> None:
    """Fire transition ``name`` of a black-token SNAKES net."""
    from snakes.nets import Substitution

    sn.transition(name).fire(Substitution())  # type: ignore[attr-defined]

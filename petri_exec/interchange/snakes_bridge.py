"""SNAKES, the reference semantics: the same P/T net in SNAKES, both ways.

:func:`to_snakes`: consuming arcs become ``Value(dot)`` inputs (``MultiArc`` for weights
above one), read arcs ``Test`` inputs, producing arcs outputs. SNAKES allows one input
and one output arc per (place, transition) pair, so a place a transition both consumes
(``c``) and reads (``r``) becomes one input of weight ``max(c, r)`` and an output that puts
back ``max(c, r) - c`` (same enabling, same effect).

:func:`from_snakes`: black-token P/T nets only (``dot`` tokens, ``Value(dot)`` /
``MultiArc`` / ``Test`` arcs, no guards); input/output pairs on one place become read arcs
as in :func:`petri_exec.interchange.pnml.split_loops`. SNAKES is imported lazily.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.marking import Marking
from ..core.net import Net, Transition
from ..errors import NetFormatError
from .pnml import split_loops

__all__ = ["from_snakes", "to_snakes"]


def _arc(weight: int) -> Any:
    from snakes.nets import MultiArc, Value, dot

    return Value(dot) if weight == 1 else MultiArc([Value(dot)] * weight)


def to_snakes(net: Net, marking: Mapping[str, int]) -> Any:
    """The net as a ``snakes.nets.PetriNet`` holding ``marking``.

    Args:
        net: The net.
        marking: Place name -> tokens.

    Returns:
        A SNAKES net whose place and transition names are the net's.
    """
    from snakes.nets import PetriNet, Place, Test, dot
    from snakes.nets import Transition as STransition

    sn = PetriNet(net.name)
    for place in net.places:
        sn.add_place(Place(place, [dot] * marking.get(place, 0)))
    for t in net.transitions:
        sn.add_transition(STransition(t.name))
    for i, t in enumerate(net.transitions):
        consumed = dict(net.consume[i])
        produced = dict(net.produce[i])
        tests = {}
        for p, r in net.read[i]:
            c = consumed.get(p, 0)
            if c == 0:
                tests[p] = r
            elif r > c:
                consumed[p] = r
                produced[p] = produced.get(p, 0) + r - c
        for p, w in consumed.items():
            sn.add_input(net.places[p], t.name, _arc(w))
        for p, w in tests.items():
            sn.add_input(net.places[p], t.name, Test(_arc(w)))
        for p, w in produced.items():
            sn.add_output(net.places[p], t.name, _arc(w))
    return sn


def _weight(arc: Any, where: str) -> int:
    from snakes.nets import MultiArc, Value, dot

    if type(arc) is Value and arc.value == dot:
        return 1
    if type(arc) is MultiArc and len(arc) > 0 and all(
            type(a) is Value and a.value == dot for a in arc):
        return len(arc)
    raise NetFormatError(f"arc {arc!r} is not a black-token arc (Value(dot) or a MultiArc of "
                         "them); only P/T nets can be imported: unfold the coloured net first",
                         file="<snakes>", element=where)


def from_snakes(snakes_net: Any) -> tuple[Net, Marking]:
    """A P/T net built in SNAKES, as a :class:`~petri_exec.Net` and its marking.

    Args:
        snakes_net: A ``snakes.nets.PetriNet`` with black tokens only.

    Returns:
        ``(net, marking)``; places and transitions keep SNAKES' order and names.

    Raises:
        NetFormatError: A coloured token, a guard, or an arc other than ``Value(dot)``,
            ``MultiArc`` of them, or ``Test`` of those (e.g. an inhibitor or flush arc);
            the message names the place, transition or arc.
    """
    from snakes.nets import Test, dot

    splaces = list(snakes_net.place())
    places = [p.name for p in splaces]
    index = {name: i for i, name in enumerate(places)}
    tokens = []
    for p in splaces:
        items = list(p.tokens)
        if any(tok != dot for tok in items):
            raise NetFormatError(f"place holds non-black tokens {p.tokens!r}; only P/T nets "
                                 "(dot tokens) can be imported", file="<snakes>",
                                 element=f"place {p.name!r}")
        tokens.append(len(items))
    transitions, consume, produce, read = [], [], [], []
    for t in snakes_net.transition():
        where = f"transition {t.name!r}"
        if str(t.guard).strip() != "True":
            raise NetFormatError(f"the guard {str(t.guard)!r} is not True; only P/T nets "
                                 "(no guards) can be imported", file="<snakes>", element=where)
        consumed: dict[int, int] = {}
        tests: list[tuple[int, int]] = []
        for place, arc in t.input():
            at = f"arc {place.name!r} -> {t.name!r}"
            if type(arc) is Test:
                tests.append((index[place.name], _weight(arc._annotation, at)))
            else:
                consumed[index[place.name]] = _weight(arc, at)
        produced = {index[place.name]: _weight(arc, f"arc {t.name!r} -> {place.name!r}")
                    for place, arc in t.output()}
        c, p, r = split_loops(consumed, produced)
        transitions.append(Transition(t.name, t.name))
        consume.append(c)
        produce.append(p)
        read.append(r + tests)
    net = Net(places, transitions, consume, produce, read, name=snakes_net.name)
    return net, Marking(zip(places, tokens, strict=True))

"""SNAKES, the reference semantics: build the same P/T net in SNAKES.

Consuming arcs become ``Value(dot)`` inputs (``MultiArc`` for weights above one), read
arcs ``Test`` inputs, producing arcs outputs. Used by the differential tests and the
benchmarks; SNAKES is imported lazily.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .net import Net

__all__ = ["to_snakes"]


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
        for p, w in net.consume[i]:
            sn.add_input(net.places[p], t.name, _arc(w))
        for p, w in net.read[i]:
            if any(q == p for q, _ in net.consume[i]):
                continue  # SNAKES allows one arc per pair; the consuming arc tests too
            sn.add_input(net.places[p], t.name, Test(_arc(w)))
        for p, w in net.produce[i]:
            sn.add_output(net.places[p], t.name, _arc(w))
    return sn

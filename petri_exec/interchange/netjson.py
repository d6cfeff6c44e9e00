"""The documented JSON form of a net (``docs/net.schema.json``), with a marking.

Pure: a net and a marking in, a JSON-ready dict out. ``petri-exec export --format json`` and
``visualize --format json`` write it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..core.net import Net, Transition

__all__ = ["net_json"]


def net_json(net: Net, marking: Mapping[str, int],
             enabled: Iterable[Transition] = ()) -> dict[str, Any]:
    """The documented JSON form of a net (see docs/concepts.md).

    Args:
        net: The net.
        marking: Its marking.
        enabled: Transitions to list as enabled.

    Returns:
        ``{"name", "places", "transitions", "marking", "enabled", "subnets"}`` with arcs per
        transition; ``subnets`` maps each slice id (``""`` for the run lane) to its places
        and transitions.
    """
    places = net.places
    return {
        "name": net.name,
        "places": list(places),
        "transitions": [
            {
                "name": t.name,
                "step": t.step,
                "slice_id": t.slice_id,
                "port": t.port,
                "handler": t.handler,
                "manual": t.manual,
                "consume": {places[p]: w for p, w in net.consume[t.index]},
                "produce": {places[p]: w for p, w in net.produce[t.index]},
                "read": {places[p]: w for p, w in net.read[t.index]},
            }
            for t in net.transitions
        ],
        "marking": {p: marking[p] for p in places if marking.get(p, 0)},
        "enabled": sorted(t.name for t in enabled),
        "subnets": _subnets(net),
    }


def _subnets(net: Net) -> dict[str, dict[str, list[str]]]:
    """Each slice's subnet (its places and transitions), in net order; run lane under ""."""
    out: dict[str, dict[str, list[str]]] = {}
    for t in net.transitions:
        out.setdefault(t.slice_id or "", {"places": [], "transitions": []})[
            "transitions"].append(t.name)
    for place in net.places:
        kind, _, rest = place.partition(":")
        key = "" if kind == "run" else rest.rpartition(":")[0] if kind == "slice" else None
        if key is not None and key in out:
            out[key]["places"].append(place)
    return out

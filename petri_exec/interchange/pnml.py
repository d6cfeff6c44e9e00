"""PNML (ISO/IEC 15909-2) place/transition nets: export and safe import.

Export: ids follow net order (``p<i>``, ``t<i>``, ``a<n>``), names carry the contract's
place and transition names, each transition's arcs are sorted by place, so equal nets give
byte-identical files. PNML P/T nets have no read arcs: a transition that consumes ``c``,
reads ``r`` and produces ``q`` tokens of one place is written as an input arc of weight
``max(c, r)`` and an output arc of weight ``q + max(c, r) - c`` (same enabling, same
effect). Transitions of compiled runs carry their step, slice, port, handler and manual
flag in a ``<toolspecific tool="petri-exec">`` element, which other tools ignore.

Import (:mod:`petri_exec.interchange.pnmlread`) turns such loops back into read arcs with
:func:`split_loops`: an input arc of weight ``i`` and an output arc of weight ``o`` on the
same place become a read arc of weight ``i`` plus the net change (consume ``i - o`` or
produce ``o - i``). :func:`net_type_of` names the net types it accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from xml.etree import ElementTree as ET

from ..core.net import Arc, Net, Transition

__all__ = ["CORE_TYPE", "PNML_NS", "PTNETB_NS", "PTNET_TYPE", "TOOL", "net_type_of",
           "split_loops", "to_pnml"]

PNML_NS = "http://www.pnml.org/version-2009/grammar/pnml"
PTNET_TYPE = "http://www.pnml.org/version-2009/grammar/ptnet"
#: pm4py's and ProM's type: PNML's core model, written with P/T markings and inscriptions.
CORE_TYPE = "http://www.pnml.org/version-2009/grammar/pnmlcoremodel"
#: The namespace LoLA writes (WoPeD writes none); ``ptNetb`` is also their net type.
PTNETB_NS = "http://www.informatik.hu-berlin.de/top/pnml/ptNetb"
_PTNETB_TYPES = frozenset(
    f"{scheme}://{host}.informatik.hu-berlin.de/top/pntd/ptNetb"
    for scheme in ("http", "https") for host in ("www", "www2"))
#: The ``tool`` of petri-exec's ``<toolspecific>`` elements.
TOOL = "petri-exec"


def _text(parent: ET.Element, tag: str, value: str) -> None:
    ET.SubElement(ET.SubElement(parent, tag), "text").text = value


def _arcs(net: Net, i: int) -> tuple[list[Arc], list[Arc]]:
    """Input and output arcs of transition ``i`` with read arcs folded into loops."""
    consumed = dict(net.consume[i])
    produced = dict(net.produce[i])
    for p, r in net.read[i]:
        c = consumed.get(p, 0)
        top = max(c, r)
        consumed[p] = top
        if top > c:
            produced[p] = produced.get(p, 0) + top - c
    return sorted(consumed.items()), sorted(produced.items())


def _tool(t: Transition, parent: ET.Element) -> None:
    if t.step == t.name and not (t.slice_id or t.port or t.handler or t.manual):
        return
    ts = ET.SubElement(parent, "toolspecific", tool=TOOL, version="1")
    attrs = {"step": t.step, "slice": t.slice_id, "port": t.port, "handler": t.handler}
    info = {k: v for k, v in attrs.items() if v is not None}
    if t.manual:
        info["manual"] = "true"
    ET.SubElement(ts, "transition", info)


def to_pnml(net: Net, marking: Mapping[str, int]) -> bytes:
    """Serialise ``net`` with ``marking`` as its initial marking.

    Args:
        net: The net.
        marking: Place name -> tokens (places absent from the net are ignored).

    Returns:
        UTF-8 XML bytes ending in a newline.
    """
    root = ET.Element("pnml", xmlns=PNML_NS)
    enet = ET.SubElement(root, "net", id="net", type=PTNET_TYPE)
    _text(enet, "name", net.name)
    page = ET.SubElement(enet, "page", id="page")
    for i, place in enumerate(net.places):
        ep = ET.SubElement(page, "place", id=f"p{i}")
        _text(ep, "name", place)
        tokens = marking.get(place, 0)
        if tokens:
            _text(ep, "initialMarking", str(tokens))
    for t in net.transitions:
        et = ET.SubElement(page, "transition", id=f"t{t.index}")
        _text(et, "name", t.name)
        _tool(t, et)
    n = 0
    for i in range(len(net.transitions)):
        ins, outs = _arcs(net, i)
        for source, target, weight in [(f"p{p}", f"t{i}", w) for p, w in ins] + [
                (f"t{i}", f"p{p}", w) for p, w in outs]:
            ea = ET.SubElement(page, "arc", id=f"a{n}", source=source, target=target)
            n += 1
            if weight != 1:
                _text(ea, "inscription", str(weight))
    ET.indent(root, "  ")
    # serialise to str and encode once: ElementTree's own utf-8 writer resets a codec on
    # every write, which dominates the cost on large nets
    text = ET.tostring(root, encoding="unicode")
    return f"<?xml version='1.0' encoding='utf-8'?>\n{text}\n".encode()


def split_loops(consumed: Mapping[int, int], produced: Mapping[int, int]
                ) -> tuple[list[Arc], list[Arc], list[Arc]]:
    """Turn input/output pairs on one place into read arcs (same enabling, same effect).

    Args:
        consumed: Place index -> input weight.
        produced: Place index -> output weight.

    Returns:
        ``(consume, produce, read)`` arcs: a place with input ``i`` and output ``o`` is read
        with weight ``i`` and consumed ``i - o`` (or produced ``o - i``) on top.
    """
    consume = [(p, w) for p, w in consumed.items() if p not in produced]
    produce = [(p, w) for p, w in produced.items() if p not in consumed]
    read = []
    for p, i in consumed.items():
        o = produced.get(p)
        if o is None:
            continue
        read.append((p, i))
        if i > o:
            consume.append((p, i - o))
        elif o > i:
            produce.append((p, o - i))
    return sorted(consume), sorted(produce), read


def net_type_of(declared: str | None) -> str | None:
    """Which kind of P/T net a ``<net type=…>`` declares.

    Args:
        declared: The ``type`` attribute, or None when the net has none.

    Returns:
        ``"ptnet"``, ``"core"`` (pnmlcoremodel), ``"ptnetb"``, ``"untyped"`` (read only when
        every element is P/T-shaped), or None for a type that is not a P/T net.
    """
    if declared is None:
        return "untyped"
    declared = declared.strip()
    if declared == PTNET_TYPE:
        return "ptnet"
    if declared == CORE_TYPE:
        return "core"
    if declared in _PTNETB_TYPES:
        return "ptnetb"
    return None

"""PNML (ISO/IEC 15909-2) place/transition nets: export and safe import.

Export: ids follow net order (``p<i>``, ``t<i>``, ``a<n>``), names carry the contract's
place and transition names, each transition's arcs are sorted by place, so equal nets give
byte-identical files. PNML P/T nets have no read arcs: a transition that consumes ``c``,
reads ``r`` and produces ``q`` tokens of one place is written as an input arc of weight
``max(c, r)`` and an output arc of weight ``q + max(c, r) - c`` (same enabling, same
effect). Transitions of compiled runs carry their step, slice, port, handler and manual
flag in a ``<toolspecific tool="petri-exec">`` element, which other tools ignore.

Import (:func:`from_pnml`) turns such loops back into read arcs: an input arc of weight
``i`` and an output arc of weight ``o`` on the same place become a read arc of weight ``i``
plus the net change (consume ``i - o`` or produce ``o - i``). The XML is checked before it
is parsed: a DOCTYPE, an entity declaration or an external reference is refused, so there
is no entity expansion and nothing is fetched.
"""

from __future__ import annotations

import os
import xml.parsers.expat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NoReturn
from xml.etree import ElementTree as ET

from ..core.marking import Marking
from ..core.net import Arc, Net, Transition
from ..errors import NetFormatError

__all__ = ["PNML_NS", "PTNET_TYPE", "TOOL", "from_pnml", "split_loops", "to_pnml"]

PNML_NS = "http://www.pnml.org/version-2009/grammar/pnml"
PTNET_TYPE = "http://www.pnml.org/version-2009/grammar/ptnet"
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


class _Doc:
    """Checks and reads one PNML document, failing with the file and element named."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.ns = ""

    def fail(self, el: ET.Element | None, problem: str) -> NoReturn:
        raise NetFormatError(problem, file=self.file, element=self.describe(el))

    def describe(self, el: ET.Element | None) -> str:
        if el is None:
            return ""
        name = self.local(el)
        ident = el.get("id")
        return f'<{name} id="{ident}">' if ident is not None else f"<{name}>"

    def local(self, el: ET.Element) -> str:
        tag = el.tag
        if self.ns and tag.startswith("{" + self.ns + "}"):
            return tag[len(self.ns) + 2:]
        return tag

    def children(self, el: ET.Element, name: str) -> Iterator[ET.Element]:
        tag = f"{{{self.ns}}}{name}" if self.ns else name
        return (c for c in el if c.tag == tag)

    def label(self, el: ET.Element, name: str) -> str | None:
        for lab in self.children(el, name):
            for text in self.children(lab, "text"):
                return text.text or ""
            self.fail(el, f"<{name}> has no <text>; write <{name}><text>…</text></{name}>")
        return None

    def number(self, el: ET.Element, name: str, default: int, least: int) -> int:
        raw = self.label(el, name)
        if raw is None:
            return default
        value = raw.strip()
        if not value.isdigit() or not value.isascii() or int(value) < least:
            self.fail(el, f"<{name}> is {raw!r}; a place/transition net needs an integer "
                          f">= {least} there")
        return int(value)

    def ident(self, el: ET.Element, seen: dict[str, ET.Element]) -> str:
        ident = el.get("id")
        if not ident:
            self.fail(el, "the element has no id attribute; give every node and arc an id")
        if ident in seen:
            self.fail(el, f"id {ident!r} is used twice (also {self.describe(seen[ident])}); "
                          "ids must be unique in the document")
        seen[ident] = el
        return ident


def _refuse_dtd(data: bytes, file: str) -> None:
    """Scan ``data`` with expat, refusing DTDs, entities and external references."""

    def refuse(what: str) -> NoReturn:
        raise NetFormatError(f"the document contains {what}; PNML needs none and petri-exec "
                             "refuses them (no entity expansion, no external references): "
                             "remove it", file=file)

    parser = xml.parsers.expat.ParserCreate()
    parser.StartDoctypeDeclHandler = lambda *_a: refuse("a DOCTYPE declaration")
    parser.EntityDeclHandler = lambda *_a: refuse("an ENTITY declaration")
    parser.ExternalEntityRefHandler = lambda *_a: refuse("an external entity reference")
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as e:
        raise NetFormatError(f"not well-formed XML at line {e.lineno}, column {e.offset} "
                             f"({xml.parsers.expat.ErrorString(e.code)}); fix the file",
                             file=file) from None


def from_pnml(source: bytes | str | os.PathLike[str]) -> tuple[Net, Marking]:
    """Read a PNML place/transition net.

    Args:
        source: The document's bytes, or the path of a file (a ``str`` is a path).

    Returns:
        ``(net, initial marking)``. Names become place and transition names (a missing
        name is replaced by the id; a name used twice gets ``#<id>`` appended). Loops become
        read arcs (see the module docstring); petri-exec's ``toolspecific`` data restores
        transitions' step, slice, port, handler and manual flag.

    Raises:
        NetFormatError: Unreadable file, unsafe or malformed XML, not exactly one P/T net,
            or an invalid node, arc, marking or inscription (the message names the element).
    """
    if isinstance(source, bytes):
        file, data = "<bytes>", source
    else:
        file = os.fspath(source)
        try:
            data = Path(file).read_bytes()
        except OSError as e:
            raise NetFormatError(f"cannot read the file ({e.strerror})", file=file) from None
    _refuse_dtd(data, file)
    root = ET.fromstring(data)
    doc = _Doc(file)
    if root.tag.startswith("{"):
        doc.ns = root.tag[1:].split("}", 1)[0]
        if doc.ns != PNML_NS:
            doc.fail(root, f"namespace {doc.ns!r} is not PNML's {PNML_NS!r}")
    if doc.local(root) != "pnml":
        doc.fail(root, "the root element is not <pnml>; this is not a PNML document")
    nets = list(doc.children(root, "net"))
    if len(nets) != 1:
        doc.fail(root, f"the document has {len(nets)} <net> elements; petri-exec reads "
                       "exactly one net per file: split the file")
    return _read_net(doc, nets[0])


def _walk(doc: _Doc, page: ET.Element) -> Iterator[ET.Element]:
    for el in page:
        if doc.local(el) == "page":
            yield from _walk(doc, el)
        else:
            yield el


def _unique(names: list[tuple[str | None, str]]) -> list[str]:
    chosen = [name if name is not None else ident for name, ident in names]
    counts: dict[str, int] = {}
    for c in chosen:
        counts[c] = counts.get(c, 0) + 1
    return [c if counts[c] == 1 else f"{c}#{ident}" for c, (_n, ident) in zip(
        chosen, names, strict=True)]


def _read_net(doc: _Doc, enet: ET.Element) -> tuple[Net, Marking]:
    if enet.get("type") != PTNET_TYPE:
        doc.fail(enet, f"net type {enet.get('type')!r} is not a place/transition net; "
                       f"petri-exec reads type {PTNET_TYPE!r}")
    seen: dict[str, ET.Element] = {}
    places: list[tuple[str | None, str]] = []
    tokens: list[int] = []
    trans: list[tuple[str | None, str]] = []
    meta: list[dict[str, str]] = []
    arcs: list[ET.Element] = []
    refs: dict[str, tuple[str, ET.Element]] = {}
    node: dict[str, tuple[str, int]] = {}
    for el in (e for page in doc.children(enet, "page") for e in _walk(doc, page)):
        kind = doc.local(el)
        if kind == "place":
            node[doc.ident(el, seen)] = ("place", len(places))
            places.append((doc.label(el, "name"), el.get("id", "")))
            tokens.append(doc.number(el, "initialMarking", 0, 0))
        elif kind == "transition":
            node[doc.ident(el, seen)] = ("transition", len(trans))
            trans.append((doc.label(el, "name"), el.get("id", "")))
            meta.append(_tool_info(doc, el))
        elif kind in ("referencePlace", "referenceTransition"):
            refs[doc.ident(el, seen)] = (el.get("ref", ""), el)
        elif kind == "arc":
            doc.ident(el, seen)
            arcs.append(el)
    for ident, (target, el) in refs.items():
        hops = 0
        while target in refs and hops <= len(refs):
            target, hops = refs[target][0], hops + 1
        want = "place" if doc.local(el) == "referencePlace" else "transition"
        if target not in node or node[target][0] != want:
            doc.fail(el, f"ref {el.get('ref')!r} does not lead to a {want}; point it at one")
        node[ident] = node[target]
    consumed: list[dict[int, int]] = [{} for _ in trans]
    produced: list[dict[int, int]] = [{} for _ in trans]
    for el in arcs:
        src, dst = node.get(el.get("source", "")), node.get(el.get("target", ""))
        if src is None or dst is None:
            doc.fail(el, f"source {el.get('source')!r} or target {el.get('target')!r} is not "
                         "a place or transition of the net")
        weight = doc.number(el, "inscription", 1, 1)
        if src[0] == "place" and dst[0] == "transition":
            side, p, t = consumed, src[1], dst[1]
        elif src[0] == "transition" and dst[0] == "place":
            side, p, t = produced, dst[1], src[1]
        else:
            doc.fail(el, f"the arc joins two {src[0]}s; arcs join a place and a transition")
        side[t][p] = side[t].get(p, 0) + weight
    split = [split_loops(c, p) for c, p in zip(consumed, produced, strict=True)]
    place_names = _unique(places)
    transitions = [
        Transition(name, m.get("step", name), m.get("slice"), m.get("port"), m.get("handler"),
                   m.get("manual") == "true")
        for name, m in zip(_unique(trans), meta, strict=True)
    ]
    name = doc.label(enet, "name")
    net = Net(place_names, transitions, [s[0] for s in split], [s[1] for s in split],
              [s[2] for s in split], name=name if name is not None else enet.get("id", "net"))
    return net, Marking(zip(place_names, tokens, strict=True))


def _tool_info(doc: _Doc, el: ET.Element) -> dict[str, str]:
    for ts in doc.children(el, "toolspecific"):
        if ts.get("tool") != TOOL:
            continue
        for info in doc.children(ts, "transition"):
            out = dict(info.attrib)
            unknown = set(out) - {"step", "slice", "port", "handler", "manual"}
            if unknown or out.get("manual", "false") not in ("true", "false"):
                doc.fail(el, f"<toolspecific tool={TOOL!r}> has unknown attributes "
                             f"{sorted(unknown)} or a manual flag other than true/false")
            return out
    return {}

"""Reading PNML place/transition nets, as the tools that write them write them.

Accepted net types: ISO ``ptnet``; pm4py's and ProM's ``pnmlcoremodel`` (read as a P/T net,
with inscriptions and markings where the file has them, as pm4py reads it); WoPeD's and
LoLA's ``ptNetb``; and no type at all when every element is P/T-shaped (SNAKES). Nodes may
sit in pages (nested to any depth) or directly under ``<net>`` (PNML 2004, WoPeD, pm4py's
ProM 5 mode). Anything a P/T net cannot hold is refused, naming the element and its line:
coloured sorts, tokens and inscriptions, guards, inhibitor and reset arcs, repeated ids.

Cost: one expat scan (refusing DTDs and entities) plus ElementTree's parse, then one pass
over the elements; nothing is recursive, so nesting depth costs no stack. Line numbers are
found only when an error is raised (a second expat scan up to the element).
"""

from __future__ import annotations

import contextlib
import os
import xml.parsers.expat
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn
from xml.etree import ElementTree as ET

import attrs

from ..core.marking import Marking
from ..core.net import Net, Transition
from ..errors import NetFormatError
from .pnml import CORE_TYPE, PNML_NS, PTNET_TYPE, PTNETB_NS, TOOL, net_type_of, split_loops

__all__ = ["PnmlNet", "from_pnml", "read_pnml"]

#: Token counts and arc weights are refused from this many digits on.
_MAX_DIGITS = 18
#: Elements of a P/T net; a net without a type may hold nothing else.
_PT_CHILDREN = {
    "net": {"name", "page", "place", "transition", "arc", "referencePlace",
            "referenceTransition", "toolspecific", "graphics", "finalmarkings"},
    "place": {"name", "initialMarking", "graphics", "toolspecific"},
    "transition": {"name", "graphics", "toolspecific"},
    "arc": {"inscription", "graphics", "toolspecific"},
    "referencePlace": {"name", "graphics", "toolspecific"},
    "referenceTransition": {"name", "graphics", "toolspecific"},
}
_PT_CHILDREN["page"] = _PT_CHILDREN["net"] - {"finalmarkings"}
_NODES = frozenset(("place", "transition", "arc", "referencePlace", "referenceTransition"))
#: What a P/T net cannot hold, whatever the net's type says: element -> why.
_NOT_PT = {
    "hlinitialMarking": "a coloured (high-level) initial marking",
    "hlinscription": "a coloured (high-level) inscription",
    "condition": "a guard",
    "declaration": "coloured declarations (sorts, variables, operators)",
    "declarations": "coloured declarations (sorts, variables, operators)",
}
_NOT_PT_ARC = {"inhibitor": "an inhibitor arc", "reset": "a reset arc",
               "transfer": "a transfer arc", "read": "a read (test) arc extension"}


@attrs.frozen
class PnmlNet:
    """A PNML document, read.

    Attributes:
        net: The net (loops become read arcs, see :mod:`petri_exec.interchange.pnml`).
        marking: The initial marking.
        finals: Final markings the file declares (pm4py's ``<finalmarkings>``), else empty.
        net_type: The declared type URI, or None when the net declares none.
    """

    net: Net
    marking: Marking
    finals: tuple[Marking, ...]
    net_type: str | None


class _Found(Exception):
    """Stops the line-finding scan once the element is reached."""


class _Doc:
    """One PNML document: checks its elements and fails naming file, element and line."""

    def __init__(self, file: str, data: bytes, root: ET.Element) -> None:
        self.file = file
        self.data = data
        self.root = root
        self.ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
        self.strict = False  # untyped net: every element must be P/T-shaped

    def fail(self, el: ET.Element | None, problem: str) -> NoReturn:
        raise NetFormatError(problem, file=self.file, element=self.describe(el),
                             line=None if el is None else self.line(el))

    def line(self, el: ET.Element) -> int | None:
        """The line of ``el``: its rank among the elements, found again by expat."""
        rank = next((k for k, e in enumerate(self.root.iter()) if e is el), None)
        if rank is None:
            return None
        parser = xml.parsers.expat.ParserCreate()
        found: list[int] = []
        seen = [0]

        def start(_name: str, _attrs: object) -> None:
            if seen[0] == rank:
                found.append(parser.CurrentLineNumber)
                raise _Found
            seen[0] += 1

        parser.StartElementHandler = start
        with contextlib.suppress(_Found):
            parser.Parse(self.data, True)
        return found[0] if found else None

    def describe(self, el: ET.Element | None) -> str:
        if el is None:
            return ""
        ident = el.get("id")
        name = self.local(el)
        return f'<{name} id="{ident}">' if ident is not None else f"<{name}>"

    def local(self, el: ET.Element) -> str:
        tag = el.tag
        if not isinstance(tag, str):
            return ""
        if self.ns and tag.startswith("{" + self.ns + "}"):
            return tag[len(self.ns) + 2:]
        return tag

    def children(self, el: ET.Element, name: str) -> Iterator[ET.Element]:
        tag = f"{{{self.ns}}}{name}" if self.ns else name
        return (c for c in el if c.tag == tag)

    def check_shape(self, el: ET.Element, kind: str) -> None:
        """Refuse what a P/T net cannot hold (and, in an untyped net, anything foreign)."""
        allowed = _PT_CHILDREN.get(kind, set())
        for c in el:
            name = self.local(c)
            if name in _NOT_PT:
                self.fail(el, f"<{name}>: {_NOT_PT[name]} is not part of a place/transition net; "
                             "petri-exec reads P/T nets only: unfold the net to P/T first")
            if name == "type" and kind == "place":
                self.fail(el, "the place has a <type> (a sort, or SNAKES' domain): coloured "
                             "places are not part of a place/transition net; petri-exec "
                             "reads P/T nets only (SNAKES nets: pe.from_snakes)")
            if self.strict and name not in allowed:
                self.fail(el, f"<{name}> inside <{kind}> is not part of a place/transition "
                             "net, and the net declares no type; declare "
                             f"type=\"{PTNET_TYPE}\" if it is one, or remove the element")

    def label(self, el: ET.Element, name: str) -> str | None:
        for lab in self.children(el, name):
            for text in self.children(lab, "text"):
                return text.text or ""
            structured = [self.local(c) for c in lab if self.local(c) not in (
                "graphics", "toolspecific")]
            if structured:
                self.fail(el, f"<{name}> holds <{structured[0]}>, not <text>: coloured "
                               "tokens or expressions, which a place/transition net cannot "
                               "hold; petri-exec reads P/T nets only")
            self.fail(el, f"<{name}> has no <text>; write <{name}><text>…</text></{name}>")
        return None

    def number(self, el: ET.Element, name: str, default: int, least: int) -> int:
        raw = self.label(el, name)
        if raw is None:
            return default
        value = raw.strip()
        if not value.isdigit() or not value.isascii():
            self.fail(el, f"<{name}> is {raw!r}; a place/transition net needs an integer "
                          f">= {least} there")
        if len(value.lstrip("0")) > _MAX_DIGITS:
            self.fail(el, f"<{name}> has {len(value.lstrip('0'))} digits; petri-exec reads "
                          f"token counts and weights below 10**{_MAX_DIGITS}: "
                          "use a smaller number")
        number = int(value)
        if number < least:
            self.fail(el, f"<{name}> is {raw!r}; a place/transition net needs an integer "
                          f">= {least} there")
        return number

    def ident(self, el: ET.Element, seen: dict[str, ET.Element]) -> str:
        ident = el.get("id")
        if not ident:
            self.fail(el, "the element has no id attribute; give every node and arc an id")
        if ident in seen:
            other = seen[ident]
            where = self.line(other)
            self.fail(el, f"id {ident!r} is used twice (also {self.describe(other)}"
                          + (f" on line {where}" if where is not None else "")
                          + "); ids must be unique in the document")
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


def read_pnml(source: bytes | str | os.PathLike[str]) -> PnmlNet:
    """Read a PNML place/transition net with everything the file says about it.

    Args:
        source: The document's bytes, or the path of a file (a ``str`` is a path).

    Returns:
        The :class:`PnmlNet`: net, initial marking, declared final markings, net type.

    Raises:
        NetFormatError: Unreadable file, unsafe or malformed XML, not exactly one net, a
            net type that is not P/T, an element a P/T net cannot hold, an invalid node,
            arc, marking or inscription, or a net with no place and no transition. The
            message names the file, the line and the element.
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
    doc = _Doc(file, data, ET.fromstring(data))
    root = doc.root
    if doc.ns and doc.ns not in (PNML_NS, PTNETB_NS):
        doc.fail(root, f"namespace {doc.ns!r} is not PNML's {PNML_NS!r}")
    if doc.local(root) != "pnml":
        doc.fail(root, "the root element is not <pnml>; this is not a PNML document")
    nets = list(doc.children(root, "net"))
    if len(nets) != 1:
        doc.fail(root, f"the document has {len(nets)} <net> elements; petri-exec reads "
                       "exactly one net per file: split the file")
    return _read_net(doc, nets[0])


def from_pnml(source: bytes | str | os.PathLike[str]) -> tuple[Net, Marking]:
    """Read a PNML place/transition net.

    Args:
        source: The document's bytes, or the path of a file (a ``str`` is a path).

    Returns:
        ``(net, initial marking)``. Names become place and transition names (a missing
        name is replaced by the id; a name used twice gets ``#<id>`` appended, more if that
        is taken too). Loops become read arcs (see :mod:`petri_exec.interchange.pnml`);
        petri-exec's ``toolspecific`` data restores transitions' step, slice, port, handler
        and manual flag. :func:`read_pnml` also returns declared final markings.

    Raises:
        NetFormatError: As :func:`read_pnml`.
    """
    doc = read_pnml(source)
    return doc.net, doc.marking


def _nodes(doc: _Doc, enet: ET.Element) -> Iterator[ET.Element]:
    """Every node and arc under ``<net>`` and its pages, in document order, no recursion."""
    stack = [iter(enet)]
    while stack:
        el = next(stack[-1], None)
        if el is None:
            stack.pop()
            continue
        kind = doc.local(el)
        if kind == "page":
            doc.check_shape(el, "page")
            if next(doc.children(el, "net"), None) is not None:
                doc.fail(el, "the page holds a <net> (a WoPeD subprocess): not a "
                             "place/transition page; flatten the subprocess into the net")
            stack.append(iter(el))
        elif kind in _NODES:
            yield el


def _unique(names: list[tuple[str | None, str]]) -> list[str]:
    """Names made unique: a name used twice gets ``#<id>``, repeated until it is free."""
    chosen = [name if name is not None else ident for name, ident in names]
    counts: dict[str, int] = {}
    for c in chosen:
        counts[c] = counts.get(c, 0) + 1
    taken = {c for c in chosen if counts[c] == 1}
    out = []
    for c, (_n, ident) in zip(chosen, names, strict=True):
        if counts[c] > 1:
            while True:
                c = f"{c}#{ident}"
                if c not in taken:
                    break
            taken.add(c)
        out.append(c)
    return out


def _resolve(doc: _Doc, refs: dict[str, tuple[str, ET.Element]],
             node: dict[str, tuple[str, int]]) -> None:
    """Point every reference node at the place or transition it leads to (linear)."""
    for start in refs:
        chain = []
        ident = start
        while ident in refs and ident not in node:
            chain.append(ident)
            ident = refs[ident][0]
            if ident in chain:  # a cycle of references
                break
        for k in chain:
            el = refs[k][1]
            want = "place" if doc.local(el) == "referencePlace" else "transition"
            if ident not in node or node[ident][0] != want:
                doc.fail(el, f"ref {el.get('ref')!r} does not lead to a {want}; point it "
                             "at one")
            node[k] = node[ident]


def _arc_kind(doc: _Doc, el: ET.Element) -> None:
    """Refuse inhibitor, reset and other non-P/T arcs (PNML tools' and pm4py's markers)."""
    for c in el:
        name = doc.local(c)
        kind = None
        if name == "type":
            kind = c.get("value") or "".join(t.text or "" for t in doc.children(c, "text"))
        elif name == "arctype":
            kind = "".join(t.text or "" for t in doc.children(c, "text")) or c.text
        if kind is None:
            continue
        kind = kind.strip().lower()
        if kind not in ("", "normal", "regular"):
            what = _NOT_PT_ARC.get(kind, f"an arc of type {kind!r}")
            doc.fail(el, f"{what} is not part of a place/transition net; petri-exec reads "
                         "P/T nets only: remove the arc or model it with places")


def _read_net(doc: _Doc, enet: ET.Element) -> PnmlNet:
    declared = enet.get("type")
    kind = net_type_of(declared)
    if kind is None:
        doc.fail(enet, f"net type {declared!r} is not a place/transition net; petri-exec "
                       f"reads {PTNET_TYPE!r}, {CORE_TYPE!r} (pm4py, ProM), ptNetb (WoPeD) "
                       "or a net without a type")
    doc.strict = kind == "untyped"
    doc.check_shape(enet, "net")
    seen: dict[str, ET.Element] = {}
    places: list[tuple[str | None, str]] = []
    tokens: list[int] = []
    trans: list[tuple[str | None, str]] = []
    meta: list[dict[str, str]] = []
    arcs: list[ET.Element] = []
    refs: dict[str, tuple[str, ET.Element]] = {}
    node: dict[str, tuple[str, int]] = {}
    for el in _nodes(doc, enet):
        kind = doc.local(el)
        if kind == "arc":
            _arc_kind(doc, el)
        doc.check_shape(el, kind)
        if kind == "place":
            node[doc.ident(el, seen)] = ("place", len(places))
            places.append((doc.label(el, "name"), el.get("id", "")))
            tokens.append(doc.number(el, "initialMarking", 0, 0))
        elif kind == "transition":
            if el.get("guard") is not None:
                doc.fail(el, "the transition has a guard (a data Petri net): not part of a "
                             "place/transition net; remove the guard")
            node[doc.ident(el, seen)] = ("transition", len(trans))
            trans.append((doc.label(el, "name"), el.get("id", "")))
            meta.append(_tool_info(doc, el))
        elif kind in ("referencePlace", "referenceTransition"):
            refs[doc.ident(el, seen)] = (el.get("ref", ""), el)
        elif kind == "arc":
            doc.ident(el, seen)
            arcs.append(el)
    if not places and not trans:
        doc.fail(enet, "the net has no place and no transition; nodes must sit in a <page> "
                       "or directly under <net>: this file describes an empty net")
    _resolve(doc, refs, node)
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
    finals = _finals(doc, enet, node, place_names)
    return PnmlNet(net, Marking(zip(place_names, tokens, strict=True)), finals, declared)


def _finals(doc: _Doc, enet: ET.Element, node: dict[str, tuple[str, int]],
            names: list[str]) -> tuple[Marking, ...]:
    """pm4py's ``<finalmarkings><marking><place idref=…><text>n</text>…``."""
    out = []
    for block in doc.children(enet, "finalmarkings"):
        for marking in doc.children(block, "marking"):
            counts: dict[str, int] = {}
            for ref in doc.children(marking, "place"):
                target = node.get(ref.get("idref", ""))
                if target is None or target[0] != "place":
                    doc.fail(ref, f"idref {ref.get('idref')!r} is not a place of the net")
                raw = "".join(t.text or "" for t in doc.children(ref, "text")).strip()
                if not raw.isdigit() or not raw.isascii() or len(raw) > _MAX_DIGITS:
                    doc.fail(ref, f"the final marking's count {raw!r} is not a natural number "
                                  f"below 10**{_MAX_DIGITS}")
                name = names[target[1]]
                counts[name] = counts.get(name, 0) + int(raw)
            out.append(Marking(counts))
    return tuple(out)


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

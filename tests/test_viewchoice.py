"""The default view: the net view while its estimated picture is readable, else the slices
view; the estimate is checked against what system Graphviz really draws."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

import petri_exec as pe
from petri_exec.views import choose_view, net_view_size, render_dot, to_dot
from petri_exec.views.viewchoice import NET_VIEW_MAX_AREA_PT2

from .conftest import need
from .test_cli import run_cli

EXAMPLES = Path(__file__).resolve().parent.parent / "nets" / "examples"


def _generated(tmp_path: Path, shape: str, n: int, template: str) -> Path:
    slices = []
    for i in range(n):
        deps = {"chain": [f"s{i - 1}"] if i else [], "fan": [],
                "diamond": [] if i == 0 else ["s0"] if i < n - 1 else
                [f"s{k}" for k in range(1, n - 1)]}[shape]
        slices.append({"id": f"s{i}", "title": f"task {i}", "depends_on": deps})
    path = tmp_path / f"{shape}{n}-{template}.json"
    path.write_text(json.dumps({"version": 1, "run_id": path.stem, "template": template,
                                "slices": slices}))
    return path


def _real_size(path: Path) -> tuple[int, int]:
    run = pe.load_run(path)
    template = pe.load_template(run.template)
    net = pe.compile_run(run, template=template)
    svg = render_dot(to_dot(net, run, template, pe.marking_of(run)), "svg", "dot").decode()
    m = re.search(r'<svg width="(\d+)pt" height="(\d+)pt"', svg)
    assert m is not None
    return int(m[1]), int(m[2])


CASES = [("example", n, "") for n in ("diamond", "checkout", "verify-fails", "release")] + [
    (shape, n, t) for shape, n, t in (("chain", 6, "minimal"), ("fan", 20, "minimal"),
                                      ("diamond", 8, "executor"), ("chain", 3, "executor"))]


@pytest.mark.parametrize(("shape", "n", "template"), CASES,
                         ids=[f"{s}-{n}-{t}" if t else str(n) for s, n, t in CASES])
def test_the_estimate_is_within_a_quarter_of_the_real_picture(
        tmp_path: Path, shape: str, n: str | int, template: str) -> None:
    need(shutil.which("dot") is not None, "the system Graphviz (apt-get install graphviz)")
    path = (EXAMPLES / f"{n}.json" if shape == "example"
            else _generated(tmp_path, shape, int(n), template))
    run = pe.load_run(path)
    est_w, est_h = net_view_size(pe.compile_run(run), run)
    real_w, real_h = _real_size(path)
    assert 0.75 <= est_w / real_w <= 1.25, (est_w, real_w)
    assert 0.75 <= est_h / real_h <= 1.25, (est_h, real_h)


@pytest.mark.parametrize(("name", "view"), [("diamond", "net"), ("checkout", "net"),
                                            ("verify-fails", "net"), ("release", "slices")])
def test_the_examples_choose(name: str, view: str) -> None:
    run = pe.load_run(EXAMPLES / f"{name}.json")
    choice = choose_view(pe.compile_run(run), run)
    assert choice.view == view
    assert (choice.width_pt * choice.height_pt <= NET_VIEW_MAX_AREA_PT2) == (view == "net")


def test_a_long_chain_of_executor_slices_is_too_wide_for_the_net_view(tmp_path: Path) -> None:
    run = pe.load_run(_generated(tmp_path, "chain", 12, "executor"))
    choice = choose_view(pe.compile_run(run), run)
    assert choice.view == "slices" and choice.width_pt > 10_000
    assert "past 6,000,000 pt2 or 10,000 pt a side; --view net draws it anyway" in choice.reason


def test_visualize_says_which_view_it_chose(tmp_path: Path) -> None:
    (tmp_path / "release.json").write_text((EXAMPLES / "release.json").read_text())
    r = run_cli("visualize", "release.json", cwd=tmp_path)
    assert r.returncode == 0 and 'class="slice ' in r.stdout
    assert r.stderr.startswith("petri-exec visualize: drew the slices view: the net view "
                               "would be about ") and r.stderr.count("\n") == 1
    r = run_cli("visualize", "release.json", "--view", "net", cwd=tmp_path)
    assert r.returncode == 0 and r.stderr == "" and "cluster_slice_" in r.stdout
    r = run_cli("visualize", "release.json", "--format", "mermaid", cwd=tmp_path)
    assert r.returncode == 0 and r.stderr == ""
    r = run_cli("visualize", "--help", cwd=tmp_path)
    assert "Default: the net view while its picture stays readable" in " ".join(r.stdout.split())

"""The petri-exec command, run as a subprocess through the installed console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

EXE = str(Path(sys.executable).parent / "petri-exec")
DOT = shutil.which("dot")

PORTS_MODULE = '''
import petri_exec as pe
from petri_exec.testing import FakePorts

ok = FakePorts()
failing_tests = FakePorts(fail={"test_runner": "tests crashed"})

class Exploding:
    def __getattr__(self, name):
        raise RuntimeError("boom")

exploding = Exploding()
'''

GATED = '''
name = "gated"
[run]
initial = "created"
frontier = "open"
end = "done"
[[run.steps]]
name = "open_up"
from = "created"
to = "open"
[[run.steps]]
name = "close"
from = "open"
to = "closed"
[[run.steps]]
name = "approve"
from = "closed"
to = "done"
manual = true
[slice]
initial = "todo"
done = "done"
[[slice.steps]]
name = "work"
from = "todo"
to = "done"
'''


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([EXE, *args], cwd=cwd, capture_output=True, text=True,
                          env=full_env, check=False, timeout=120)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "myports.py").write_text(PORTS_MODULE)
    doc = {"version": 1, "run_id": "cli", "slices": [
        {"id": "api", "title": 'Cart "API" <script>alert(1)</script>', "depends_on": []},
        {"id": "ui", "title": "line\nbreak {braces}", "depends_on": ["api"]}]}
    (tmp_path / "run.json").write_text(json.dumps(doc))
    return tmp_path


def test_ready_lists_enabled_and_json(workdir: Path) -> None:
    r = run_cli("ready", "run.json", cwd=workdir)
    assert r.returncode == 0 and r.stdout.strip() == "worktree_create  (port workspace)"
    r = run_cli("ready", "run.json", "--json", "--scheduler", "linear", cwd=workdir)
    assert json.loads(r.stdout)[0]["name"] == "worktree_create"


def test_drive_completes_exit_0_then_fire_manual_gate(workdir: Path) -> None:
    r = run_cli("drive", "run.json", "--ports", "myports:ok", cwd=workdir)
    assert r.returncode == 0, r.stderr
    assert "completed: run status promotion_prepared" in r.stdout
    assert "transition_fired agent_result:api" in r.stdout
    r = run_cli("fire", "run.json", "host_promotion", "--ports", "myports:ok", cwd=workdir)
    assert r.returncode == 0, r.stderr
    assert json.loads((workdir / "run.json").read_text())["status"] == "promoted"
    h = run_cli("history", "run.json", cwd=workdir)
    assert h.returncode == 0 and "net_completed" in h.stdout
    hj = json.loads(run_cli("history", "run.json", "--json", cwd=workdir).stdout)
    assert hj[-1]["kind"] == "transition_fired" and hj[-1]["transition"] == "host_promotion"


def test_halted_exit_3_leaves_run_unchanged(workdir: Path) -> None:
    r = run_cli("drive", "run.json", "--ports", "myports:failing_tests", cwd=workdir)
    assert r.returncode == 3
    assert "halted" in r.stdout and "test_result:api" in r.stdout
    assert "tests crashed" in r.stdout


def test_paused_exit_5(workdir: Path) -> None:
    r = run_cli("drive", "run.json", "--ports", "myports:ok", "--max-firings", "2", cwd=workdir)
    assert r.returncode == 5
    assert json.loads((workdir / "run.json").read_text())["status"] == "worktree_populated"


def test_deadlocked_exit_4_at_a_manual_gate(workdir: Path) -> None:
    nets = workdir / "nets"
    nets.mkdir()
    (nets / "gated.toml").write_text(GATED)
    (workdir / "g.json").write_text(json.dumps(
        {"version": 1, "run_id": "g", "template": "gated", "slices": [{"id": "x"}]}))
    env = {"PETRI_EXEC_TEMPLATE_PATH": str(nets)}
    r = run_cli("drive", "g.json", "--ports", "myports:ok", cwd=workdir, env=env)
    assert r.returncode == 4, r.stdout + r.stderr
    assert "approve (a manual gate: fire it by hand)" in r.stdout


def test_bad_input_exit_2_one_line_no_traceback(workdir: Path) -> None:
    (workdir / "bad.json").write_text('{"version": 1, "run_id": "b", "slices": '
                                      '[{"id": "a", "depends_on": ["zz"]}]}')
    before = (workdir / "bad.json").read_bytes()
    r = run_cli("drive", "bad.json", "--ports", "myports:ok", cwd=workdir)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "bad.json: slices[0].depends_on[0]: unknown slice 'zz'" in r.stderr
    assert (workdir / "bad.json").read_bytes() == before
    assert not (workdir / "bad.events.jsonl").exists()
    for args in (["ready", "missing.json"], ["drive", "run.json", "--ports", "nomodule:x"],
                 ["drive", "run.json", "--ports", "noseparator"],
                 ["fire", "run.json", "agent_result:api", "--ports", "myports:ok"],
                 ["why", "run.json", "nonesuch"]):
        r = run_cli(*args, cwd=workdir)
        assert r.returncode == 2, (args, r.stderr)
        assert "Traceback" not in r.stderr and r.stderr.startswith("petri-exec: error:")


def test_internal_error_exit_1(workdir: Path) -> None:
    r = run_cli("drive", "run.json", "--ports", "myports:exploding", cwd=workdir)
    assert r.returncode == 1
    assert "internal error" in r.stderr


def test_usage_error_exit_2(workdir: Path) -> None:
    assert run_cli("nonsense", cwd=workdir).returncode == 2
    assert run_cli("drive", "run.json", cwd=workdir).returncode == 2  # --ports is required


def test_why_explains_the_chain(workdir: Path) -> None:
    r = run_cli("why", "run.json", "slice_start:ui", cwd=workdir)
    assert r.returncode == 0
    assert "run:reports_initialized" in r.stdout
    assert "worktree_create -> populate -> source_policy -> source_copy -> report_init" \
        in r.stdout
    assert "slice 'api': slice_start:api -> slice_execute:api -> agent_result:api -> " \
        "test_result:api -> slice_complete:api" in r.stdout
    assert "worktree_create is enabled" in run_cli("why", "run.json", "worktree_create",
                                                   cwd=workdir).stdout


def test_check_and_export(workdir: Path) -> None:
    r = run_cli("check", "run.json", "--json", cwd=workdir)
    assert r.returncode == 0 and json.loads(r.stdout)["sound"] is True
    r = run_cli("export", "run.json", "--format", "pnml", cwd=workdir)
    root = ET.fromstring(r.stdout.encode())
    ns = {"p": "http://www.pnml.org/version-2009/grammar/pnml"}
    names = [n.text for n in root.iterfind(".//p:transition/p:name/p:text", ns)]
    assert "agent_result:api" in names
    j = json.loads(run_cli("export", "run.json", "--format", "json", cwd=workdir).stdout)
    assert j["marking"] == {"run:created": 1, "slice:api:pending": 1, "slice:ui:pending": 1}
    assert j["enabled"] == ["worktree_create"]


def test_visualize_dot_and_mermaid_escape_labels(workdir: Path) -> None:
    dot = run_cli("visualize", "run.json", cwd=workdir)
    assert dot.returncode == 0 and dot.stdout.startswith('digraph "cli"')
    assert 'Cart \\"API\\" <script>' in dot.stdout
    assert "line\\nbreak {braces}" in dot.stdout
    mer = run_cli("visualize", "run.json", "--format", "mermaid", cwd=workdir).stdout
    assert "<script>" not in mer and "#quot;API#quot;" in mer and "#123;braces#125;" in mer


@pytest.mark.skipif(DOT is None, reason="needs the system Graphviz (installed by .ci/run)")
def test_visualize_svg_marks_state_and_html_is_self_contained(workdir: Path) -> None:
    assert run_cli("drive", "run.json", "--ports", "myports:failing_tests",
                   cwd=workdir).returncode == 3
    r = run_cli("visualize", "run.json", "-o", "net.svg", cwd=workdir)
    assert r.returncode == 0, r.stderr
    svg = ET.parse(workdir / "net.svg").getroot()
    classes = [g.get("class", "") for g in svg.iter("{http://www.w3.org/2000/svg}g")]
    assert any("failed" in c for c in classes)
    assert any("fired" in c for c in classes)
    assert any("marked" in c for c in classes)
    assert any("enabled" in c for c in classes)
    r = run_cli("visualize", "run.json", "-o", "net.html", cwd=workdir)
    html = (workdir / "net.html").read_text()
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "http://" not in html.replace("http://www.w3.org", "")
    assert "https://" not in html

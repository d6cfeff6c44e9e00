"""The petri-exec command, run as a subprocess through the installed console script."""

from __future__ import annotations

import argparse
import json
import os
import pty
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import petri_exec as pe
from petri_exec.cli import build_parser

from .conftest import state_of

EXE = str(Path(sys.executable).parent / "petri-exec")
ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "nets" / "examples"

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

GATED = (Path(__file__).parent / "nets" / "gated.toml").read_text()


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
    fired = [e for e in hj if e["kind"] == "transition_fired"]
    assert fired[-1]["transition"] == "host_promotion" and hj[-1]["kind"] == "checkpoint"


def test_halted_exit_3_leaves_run_unchanged(workdir: Path) -> None:
    original = (workdir / "run.json").read_bytes()
    r = run_cli("drive", "run.json", "--ports", "myports:failing_tests", cwd=workdir)
    assert r.returncode == 3
    assert "halted" in r.stdout and "test_result:api" in r.stdout
    assert "tests crashed" in r.stdout
    history = json.loads(run_cli("history", "run.json", "--json", cwd=workdir).stdout)
    fired = [e["transition"] for e in history if e["kind"] == "transition_fired"]
    assert "test_result:api" not in fired and history[-1]["kind"] in ("net_halted",
                                                                       "checkpoint")
    # the same run driven with working ports for exactly those firings: the state a
    # halted drive must leave (the failed attempt recorded nothing)
    ref = workdir / "ref"
    ref.mkdir()
    (ref / "run.json").write_bytes(original)
    (ref / "myports.py").write_text(PORTS_MODULE)
    r2 = run_cli("drive", "run.json", "--ports", "myports:ok", "--max-firings",
                 str(len(fired)), cwd=ref)
    assert r2.returncode == 5, r2.stdout + r2.stderr
    assert state_of(workdir / "run.json") == state_of(ref / "run.json")
    assert pe.load_run(workdir / "run.json").slice("api").status == "agent_result_ingested"


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
    r = run_cli("drive", "run.json", cwd=workdir)  # --ports is required
    assert r.returncode == 2
    assert r.stderr == ("petri-exec drive: error: the following arguments are required: "
                        "--ports; see petri-exec drive --help\n")


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


COMMANDS = ("visualize", "ready", "check", "why", "drive", "fire", "history", "export")


def test_every_command_refuses_a_missing_run_file_with_exit_2(workdir: Path) -> None:
    extra = {"why": ["x"], "drive": ["--ports", "shell"], "fire": ["x", "--ports", "shell"],
             "export": ["--format", "json"]}
    for cmd in COMMANDS:
        r = run_cli(cmd, "missing.json", *extra.get(cmd, []), cwd=workdir)
        assert r.returncode == 2, (cmd, r.stderr)
        assert r.stderr.count("\n") == 1 and "missing.json" in r.stderr, (cmd, r.stderr)
        assert "Traceback" not in r.stderr


def test_help_has_an_example_for_every_command(workdir: Path) -> None:
    top = run_cli("--help", cwd=workdir)
    assert top.returncode == 0 and "exit codes:" in top.stdout
    assert run_cli("drive", "--help", cwd=workdir).returncode == 0
    subparsers = next(a for a in build_parser()._actions
                      if isinstance(a, argparse._SubParsersAction))
    for cmd in COMMANDS:
        assert f"petri-exec {cmd} " in top.stdout, cmd
        text = subparsers.choices[cmd].format_help()
        assert re.search(rf"^examples?:\n  petri-exec {cmd} ", text, re.M), cmd
        assert "exit codes: 0 success" in text


def test_drive_json_prints_only_the_outcome(workdir: Path) -> None:
    r = run_cli("drive", "run.json", "--ports", "myports:failing_tests", "--json", cwd=workdir)
    assert r.returncode == 3
    out = json.loads(r.stdout)
    assert out == {"status": "halted", "run_status": "reports_initialized",
                   "step": "test_result:api", "reason": "tests crashed", "detail": None,
                   "fired": out["fired"], "next_manual": [], "next_commands": [],
                   "exit_code": 3}
    r = run_cli("drive", "run.json", "--ports", "myports:ok", "--json", "--max-firings", "1",
                cwd=workdir)
    assert r.returncode == 5 and json.loads(r.stdout)["status"] == "paused"


def test_drive_prints_one_line_per_event_when_not_a_terminal(workdir: Path) -> None:
    r = run_cli("drive", "run.json", "--ports", "myports:ok", cwd=workdir)
    assert r.returncode == 0
    events = [json.loads(x) for x in (workdir / "run.events.jsonl").read_text().splitlines()]
    lines = [x for x in r.stdout.splitlines() if x.startswith("[")]
    assert len(lines) == len(events)
    assert lines[0] == "[0] journal_started run cli (run.json)"
    assert lines[1] == "[1] transition_started worktree_create"
    assert "\x1b[" not in r.stdout


def test_drive_shows_a_status_board_on_a_terminal(workdir: Path) -> None:
    leader, follower = pty.openpty()
    proc = subprocess.Popen([EXE, "drive", "run.json", "--ports", "myports:ok"], cwd=workdir,
                            stdin=subprocess.DEVNULL, stdout=follower, stderr=follower,
                            env={**os.environ, "NO_COLOR": "1"})
    os.close(follower)
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:                             # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
        code = proc.wait(timeout=120)
    screen = b"".join(chunks).decode()
    assert code == 0, screen
    assert "\x1b[2K" in screen                          # redrawn in place
    assert "2/2 slices completed (100%)" in screen
    assert "\u2588" * 30 in screen                       # a full progress bar
    assert "[0] transition_started" not in screen       # not the plain lines
    assert "completed: run status promotion_prepared" in screen


def test_fire_json_and_progress_lines(workdir: Path) -> None:
    assert run_cli("drive", "run.json", "--ports", "myports:ok", cwd=workdir).returncode == 0
    r = run_cli("fire", "run.json", "host_promotion", "--ports", "myports:ok", "--json",
                "--progress", "lines", cwd=workdir)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["run_status"] == "promoted"
    assert "transition_fired host_promotion" in r.stderr


def test_visualize_refuses_an_unknown_extension(workdir: Path) -> None:
    r = run_cli("visualize", "run.json", "-o", "net.bmp", cwd=workdir)
    assert r.returncode == 2 and "net.bmp" in r.stderr and "--format" in r.stderr
    assert not (workdir / "net.bmp").exists()


@pytest.mark.parametrize(("example", "code", "status", "reason"), [
    ("diamond.json", 0, "done", None),
    ("checkout.json", 0, "promotion_prepared", None),
    ("release.json", 0, "promotion_prepared", None),
    ("verify-fails.json", 3, "reports_initialized", "verification_failed"),
])
def test_examples_drive_with_shell_ports(tmp_path: Path, example: str, code: int, status: str,
                                         reason: str | None) -> None:
    run = tmp_path / example
    run.write_bytes((EXAMPLES / example).read_bytes())
    r = run_cli("drive", example, "--ports", "shell", "--json", cwd=tmp_path)
    assert r.returncode == code, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert (out["run_status"], out["reason"]) == (status, reason)
    doc = json.loads(run.read_text())
    logs = tmp_path / f"{run.stem}.work" / "logs"  # beside run.json, named after its file
    assert {p.name for p in logs.glob("*.run.1.log")} == {f"{s['id']}.run.1.log"
                                                          for s in doc["slices"]}
    if reason == "verification_failed":
        verdicts = {s["id"]: s["facts"]["verdict"] for s in doc["slices"]}
        assert verdicts == {"generate": "passed", "format": "passed", "tests": "failed"}


def test_readme_commands_are_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", readme, re.S)
    commands = [line for b in blocks[:2] for line in b.splitlines()
                if line and not line.startswith("#")]
    assert len(commands) == 2
    assert "'.[viz]'" in commands[0] and "--ports shell" in commands[0]
    assert "visualize" in commands[0] and "'.[dev,viz]'" in commands[1]
    ci = (ROOT / ".ci" / "run").read_text()
    for command in commands:
        assert command in ci, command


def test_readme_git_run_commands_run_verbatim(tmp_path: Path) -> None:
    """The README's git-run block, run line by line as written, from a checkout-like
    directory (``nets`` and a ``.venv/bin/petri-exec`` of this interpreter)."""
    readme = (ROOT / "README.md").read_text()
    block = next(b for b in re.findall(r"```sh\n(.*?)```", readme, re.S)
                 if "--ports git" in b)
    commands = [line for line in block.splitlines() if line and not line.startswith("#")]
    assert len(commands) == 4
    (tmp_path / "nets").symlink_to(ROOT / "nets")
    shim = tmp_path / ".venv" / "bin" / "petri-exec"
    shim.parent.mkdir(parents=True)
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m petri_exec "$@"\n')
    shim.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    (home / "gitconfig").write_text("")
    env = {**os.environ, "HOME": str(home), "GIT_CONFIG_GLOBAL": str(home / "gitconfig"),
           "GIT_CONFIG_NOSYSTEM": "1", "PWD": str(tmp_path)}
    outputs = []
    for _ in range(2):  # "run it again at will"
        outputs = []
        for command in commands:
            r = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env,
                               capture_output=True, text=True, timeout=300, check=False)
            assert r.returncode == 0, (command, r.stdout, r.stderr)
            outputs.append(r.stdout)
    assert "completed: run status promotion_prepared, 28 fired" in outputs[1]
    assert "fired: run status promoted, 1 fired" in outputs[2]
    log = [line.split(" ", 1)[1] for line in outputs[3].splitlines()]
    assert log[0] == "Release 1.0.0" and log[-1] == "initial commit"
    assert sorted(log[1:4]) == ["Command line", "Documentation", "Greeting function"]
    repo = tmp_path / "demo" / "repo"
    assert subprocess.run(["python3", "hello.py", "Ada"], cwd=repo, capture_output=True,
                          text=True, check=True).stdout == "Hello, Ada!\n"

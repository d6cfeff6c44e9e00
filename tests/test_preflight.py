"""``check --ports``: what a drive with those ports would refuse, found without firing
anything (the shell ports' own preflight, ports a remaining step needs, a ports object's
``preflight(run_path, run)``); and ``check`` alone on a ``meta.verify`` nothing runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import petri_exec as pe
from petri_exec.ports.shell import ShellPorts

EXE = str(Path(sys.executable).parent / "petri-exec")
NETS = Path(__file__).parent / "nets"

PORTS = '''
class Checked:
    """Ports with a preflight of their own, as the git ports have."""

    def runner(self, ctx):
        return None

    def preflight(self, run_path, run):
        return [f"{run_path}: repository missing for run {run.run_id}",
                "warning: base branch 'main' is behind"]


class Raising(Checked):
    def preflight(self, run_path, run):
        raise OSError("no such repository")


CHECKED = Checked()
RAISING = Raising()
NONE = {}
'''


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], cwd=cwd, capture_output=True, text=True, check=False,
                          timeout=120, env={**os.environ, "PETRI_EXEC_TEMPLATE_PATH": ""})


def write(path: Path, slices: list[dict[str, Any]], **top: Any) -> Path:
    path.write_text(json.dumps({"version": 1, "run_id": path.stem, **top, "slices": slices}))
    return path


def untouched(d: Path, *names: str) -> None:
    """Nothing was fired: no journal, no work directory, no log."""
    assert sorted(p.name for p in d.iterdir() if not p.name.startswith("__")) == sorted(names)


def test_shell_preflight_finds_what_the_drive_would_refuse(tmp_path: Path) -> None:
    path = write(tmp_path / "r.json", [
        {"id": "a", "meta": {"run": "nosuch-program-xyz --flag && echo ok",
                             "verify": "test -s out"}},
        {"id": "b", "depends_on": ["a"]},
        {"id": "c", "meta": {"run": ["not", "a", "string"]}},
        {"id": "d", "meta": {"run": "FOO=1 ./tool.sh | sort; if true; then cat x; fi"}},
    ], template="minimal")
    findings = ShellPorts().preflight(path, pe.load_run(path))
    assert findings == [
        "slices[1].meta.run: slice 'b' has no meta.run, so the shell ports fail execute:b; "
        'add "meta": {"run": "<shell command>"}',
        "slices[2].meta.run: must be a shell command (a string), got list; the shell ports "
        "fail execute:c",
        "warning: slices[0].meta.verify: template 'minimal' has no step calling port "
        "'test_runner', so the check of slice 'a' never runs; use a template with a test "
        "step (executor) or append it to meta.run (run && verify)",
        "warning: slices[0].meta.run: program 'nosuch-program-xyz' is not on PATH (the "
        "command of slice 'a' would exit with 127); install it or fix the command",
    ]
    (tmp_path / "r.work").mkdir()  # now ./tool.sh is looked up in the run directory
    assert ("warning: slices[3].meta.run: program './tool.sh' is not on PATH (the command "
            "of slice 'd' would exit with 127); install it or fix the command"
            in ShellPorts().preflight(path, pe.load_run(path)))


def test_shell_preflight_skips_steps_already_fired_and_reads_verify_on_executor(
        tmp_path: Path) -> None:
    path = write(tmp_path / "e.json", [
        {"id": "done", "status": "completed"},
        {"id": "mid", "status": "test_result_ingested"},
        {"id": "todo", "meta": {"run": "true", "verify": 7}},
    ], status="reports_initialized")
    assert ShellPorts().preflight(path, pe.load_run(path)) == [
        "slices[2].meta.verify: must be a shell command (a string), got int; the shell "
        "ports fail test_result:todo"]


def test_a_drive_refused_by_the_shell_ports_says_so_without_python_names(
        tmp_path: Path) -> None:
    path = write(tmp_path / "n.json", [{"id": "c", "meta": {"run": 42}}], template="minimal")
    out = pe.drive(path, ShellPorts())
    assert (out.status, out.reason) == ("halted", "slice 'c': meta.run must be a shell "
                                                  "command (a string), got int")
    out = pe.drive(pe.Run(run_id="m", template="minimal", slices=(pe.Slice("x"),)),
                   ShellPorts())
    assert out.reason == ("the shell ports need a run file: drive a run.json path, not an "
                          "in-memory run")


def test_check_ports_shell_exits_2_and_fires_nothing(tmp_path: Path) -> None:
    write(tmp_path / "r.json", [{"id": "a", "meta": {"run": "true"}}, {"id": "b"}],
          template="minimal")
    r = cli("check", "r.json", "--ports", "shell", cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[-4:] == [
        "  ports shell: 1 problem(s), 0 warning(s)",
        "  problem: slices[1].meta.run: slice 'b' has no meta.run, so the shell ports fail "
        "execute:b;",
        '           add "meta": {"run": "<shell command>"}',
        "verdict: a drive with --ports shell would fail: fix the problem(s) above (exit 2)"]
    untouched(tmp_path, "r.json")
    r = cli("check", "r.json", "--ports", "shell", "--json", cwd=tmp_path)
    out = json.loads(r.stdout)
    assert (r.returncode, out["exit"], out["ports"]["spec"], len(out["ports"]["problems"]),
            out["ports"]["preflight"]) == (2, 2, "shell", 1, [])
    untouched(tmp_path, "r.json")
    r = cli("drive", "r.json", "--ports", "shell", "--json", cwd=tmp_path)
    assert (r.returncode, json.loads(r.stdout)["step"]) == (3, "execute:b")


def test_check_ports_shell_on_a_clean_run_says_ready(tmp_path: Path) -> None:
    write(tmp_path / "ok.json", [{"id": "a", "meta": {"run": "echo hi", "verify": "true"}}])
    r = cli("check", "ok.json", "--ports", "shell", cwd=tmp_path)
    assert r.returncode == 0, r.stdout
    assert r.stdout.splitlines()[-2:] == ["  ports shell: ready to drive (nothing fired)",
                                          "verdict: sound"]
    untouched(tmp_path, "ok.json")


def test_check_names_ports_a_remaining_step_needs(tmp_path: Path) -> None:
    (tmp_path / "myports.py").write_text(PORTS)
    write(tmp_path / "r.json", [{"id": "a", "meta": {"run": "true"}}])
    r = cli("check", "r.json", "--ports", "myports:NONE", "--json", cwd=tmp_path)
    problems = json.loads(r.stdout)["ports"]["problems"]
    assert r.returncode == 2
    assert problems[0] == ("step worktree_create calls port 'workspace', which --ports "
                           "myports:NONE does not supply: the step would fail there (a "
                           "missing port fails closed)")
    assert [p.split()[1] for p in problems] == [
        "worktree_create", "populate", "source_copy", "promotion", "host_promotion",
        "agent_result:<slice>", "test_result:<slice>"]


def test_check_reports_a_ports_objects_own_preflight(tmp_path: Path) -> None:
    (tmp_path / "myports.py").write_text(PORTS)
    write(tmp_path / "r.json", [{"id": "a"}], template="minimal")
    r = cli("check", "r.json", "--ports", "myports:CHECKED", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stdout.splitlines()[-4:] == [
        "  ports myports:CHECKED: 1 problem(s), 1 warning(s)",
        "  problem: r.json: repository missing for run r",
        "  warning: base branch 'main' is behind",
        "verdict: a drive with --ports myports:CHECKED would fail: fix the problem(s) above "
        "(exit 2)"]


def test_a_preflight_that_raises_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "myports.py").write_text(PORTS)
    write(tmp_path / "r.json", [{"id": "a"}], template="minimal")
    r = cli("check", "r.json", "--ports", "myports:RAISING", "--json", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert json.loads(r.stdout)["ports"]["problems"] == [
        "the preflight of --ports myports:RAISING raised OSError: no such repository"]


def test_check_alone_warns_about_a_verify_nothing_runs(tmp_path: Path) -> None:
    write(tmp_path / "m.json", [{"id": "a", "meta": {"run": "true", "verify": "false"}}],
          template="minimal")
    r = cli("check", "m.json", cwd=tmp_path)
    assert r.returncode == 0
    assert r.stdout.splitlines()[-4:] == [
        "  warning: slices[0].meta.verify: template 'minimal' has no step calling port "
        "'test_runner',",
        "           so the check of slice 'a' never runs; use a template with a test step "
        "(executor)",
        "           or append it to meta.run (run && verify)",
        "verdict: sound"]
    r = cli("check", "m.json", "--json", cwd=tmp_path)
    assert json.loads(r.stdout)["warnings"][0].startswith("slices[0].meta.verify: ")
    write(tmp_path / "e.json", [{"id": "a", "meta": {"run": "true", "verify": "false"}}])
    assert json.loads(cli("check", "e.json", "--json", cwd=tmp_path).stdout)["warnings"] == []

"""Manual gates: the outcome names the gates a drive stopped before, the command line prints
the command that fires them, and ``ready`` lists them, marked as manual."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import petri_exec as pe
from petri_exec.testing import FakePorts

EXE = str(Path(sys.executable).parent / "petri-exec")
NETS = Path(__file__).parent / "nets"
PORTS = "from petri_exec.testing import FakePorts\nok = FakePorts()\n"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], cwd=cwd, capture_output=True, text=True, check=False,
                          timeout=120, env={**os.environ, "PETRI_EXEC_TEMPLATE_PATH": ""})


def _executor(tmp_path: Path) -> Path:
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"version": 1, "run_id": "gate", "slices": [{"id": "a"}]}))
    return path


def _gated(tmp_path: Path) -> Path:
    path = tmp_path / "g.json"
    path.write_text(json.dumps({"version": 1, "run_id": "g", "template": "gated",
                                "slices": [{"id": "x"}]}))
    return path


def test_outcome_names_the_gate_after_the_end_and_fire_clears_it(tmp_path: Path) -> None:
    path = _executor(tmp_path)
    out = pe.drive(path, FakePorts())
    assert (out.status, out.run_status, out.next_manual) == (
        "completed", "promotion_prepared", ("host_promotion",))
    assert pe.drive(path, FakePorts()).next_manual == ("host_promotion",)  # still there
    out = pe.fire(path, "host_promotion", FakePorts())
    assert (out.status, out.run_status, out.next_manual) == ("fired", "promoted", ())


def test_outcome_names_a_gate_before_the_end_and_nothing_midway(tmp_path: Path) -> None:
    path = _gated(tmp_path)
    paused = pe.drive(path, {}, max_firings=1, template_dirs=[NETS])
    assert (paused.status, paused.next_manual) == ("paused", ())
    out = pe.drive(path, {}, template_dirs=[NETS])
    assert (out.status, out.run_status, out.next_manual) == ("deadlocked", "closed",
                                                             ("approve",))
    in_memory = pe.drive(pe.Run(run_id="m", slices=(pe.Slice("a"),)), FakePorts())
    assert in_memory.next_manual == ("host_promotion",)


def test_an_abandoned_run_offers_no_gate(tmp_path: Path) -> None:
    path = _executor(tmp_path)
    pe.drive(path, FakePorts())
    pe.abandon(path, "not needed")
    out = pe.drive(path, FakePorts())
    assert (out.status, out.reason, out.next_manual) == ("halted", "abandoned", ())
    r = cli("ready", "run.json", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, "")


def test_drive_prints_the_command_that_fires_the_gate_and_it_works(tmp_path: Path) -> None:
    _executor(tmp_path)
    (tmp_path / "myports.py").write_text(PORTS)
    r = cli("drive", "run.json", "--ports", "myports:ok", "--progress", "quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    first, hint = r.stdout.splitlines()
    assert first.startswith("completed: run status promotion_prepared, 13 fired in ")
    prefix = "next: host_promotion is a manual gate; fire it with: "
    assert hint == prefix + "petri-exec fire run.json host_promotion --ports myports:ok"
    r = subprocess.run(shlex.split(hint.removeprefix(prefix)), cwd=tmp_path, text=True,
                       capture_output=True, check=False,
                       env={**os.environ, "PATH": f"{Path(EXE).parent}:{os.environ['PATH']}"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1].startswith("fired: run status promoted, 1 fired in ")
    assert "next:" not in r.stdout
    assert json.loads((tmp_path / "run.json").read_text())["status"] == "promoted"


def test_the_hint_repeats_template_dirs_and_json_lists_the_gates(tmp_path: Path) -> None:
    _gated(tmp_path)
    (tmp_path / "my nets").mkdir()
    (tmp_path / "my nets" / "gated.toml").write_text((NETS / "gated.toml").read_text())
    r = cli("drive", "g.json", "--ports", "shell", "--template-dir", "my nets", "--json",
            cwd=tmp_path)
    assert r.returncode == 4, r.stderr
    out = json.loads(r.stdout)
    command = "petri-exec fire g.json approve --ports shell --template-dir 'my nets'"
    assert (out["status"], out["next_manual"], out["next_commands"]) == (
        "deadlocked", ["approve"], [command])
    r = cli(*shlex.split(command)[1:], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = cli("drive", "g.json", "--ports", "shell", "--template-dir", "my nets", "--json",
            cwd=tmp_path)
    assert json.loads(r.stdout)["status"] == "completed"


def test_ready_lists_manual_gates_marked_as_manual(tmp_path: Path) -> None:
    path = _executor(tmp_path)
    r = cli("ready", "run.json", "--json", cwd=tmp_path)
    assert json.loads(r.stdout) == [{"name": "worktree_create", "step": "worktree_create",
                                     "slice_id": None, "port": "workspace", "manual": False}]
    pe.drive(path, FakePorts())
    r = cli("ready", "run.json", cwd=tmp_path)
    assert r.stdout == ("host_promotion  (port host_land; manual gate: petri-exec fire "
                        "run.json host_promotion --ports SPEC)\n")
    for scheduler in ("petri", "linear"):
        r = cli("ready", "run.json", "--json", "--scheduler", scheduler, cwd=tmp_path)
        assert json.loads(r.stdout) == [{"name": "host_promotion", "step": "host_promotion",
                                         "slice_id": None, "port": "host_land",
                                         "manual": True}]

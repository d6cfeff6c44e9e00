"""Operating a run over days: retry and amend, through the API and the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import petri_exec as pe
from petri_exec.testing import FakePorts

EXE = str(Path(sys.executable).parent / "petri-exec")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def _write(path: Path, slices: list[dict[str, Any]], **top: Any) -> Path:
    doc = {"version": 1, "run_id": "op", "slices": slices, **top}
    path.write_text(json.dumps(doc, indent=2))
    return path


def _verdicts(failing: set[str]) -> dict[str, Any]:
    def test_runner(ctx: pe.StepContext) -> dict[str, str]:
        return {"verdict": "failed" if ctx.slice_id in failing else "passed"}

    return {"workspace": lambda c: None, "agent_runner": lambda c: {"did": c.slice_id},
            "test_runner": test_runner, "land": lambda c: {"commit": "abc"}}


def test_retry_after_a_failed_verdict_then_a_green_drive(tmp_path: Path) -> None:
    path = _write(tmp_path / "run.json", [{"id": "api", "depends_on": []},
                                          {"id": "ui", "depends_on": ["api"]}])
    out = pe.drive(path, _verdicts({"ui"}))
    assert (out.status, out.step, out.reason) == ("halted", "run_complete",
                                                  "verification_failed")
    again = pe.drive(path, _verdicts(set()))  # the stored verdict still fails
    assert again.status == "halted" and again.fired == 0
    run = pe.retry(path, "ui")
    assert run.slice("ui").status == "pending" and run.slice("ui").facts == {}
    assert run.slice("api").status == "completed"  # upstream untouched
    assert run.status == "reports_initialized"
    green = pe.drive(path, _verdicts(set()))
    assert green.status == "completed", green.reason
    events, _ = pe.read_journal(pe.journal_path(path))
    reset = [e for e in events if e.kind == "slice_reset"]
    assert len(reset) == 1 and reset[0].slices == ("ui",)
    assert reset[0].change is not None
    assert reset[0].change["slice_facts"]["ui"]["verdict"] == "failed"  # kept in the journal
    starts = [e.attempt for e in events if e.transition == "agent_result:ui"
              and e.kind == "transition_started"]
    assert starts == [1, 2]  # the agent ran again, attempt numbers go on


def test_retry_resets_started_downstream_and_rewinds_the_run_lane(tmp_path: Path) -> None:
    path = _write(tmp_path / "run.json", [{"id": "a", "depends_on": []},
                                          {"id": "b", "depends_on": ["a"]},
                                          {"id": "c", "depends_on": ["b"]},
                                          {"id": "z", "depends_on": []}])
    assert pe.drive(path, _verdicts(set())).status == "completed"
    facts_before = dict(pe.load_run(path).facts)
    assert "commit" in facts_before and "pnml" in facts_before
    run = pe.retry(path, "b")
    assert [s.status for s in run.slices] == ["completed", "pending", "pending", "completed"]
    assert run.status == "reports_initialized"
    assert "commit" not in run.facts and "pnml" not in run.facts  # later run steps' facts
    ports = FakePorts()
    out = pe.drive(path, ports)
    assert out.status == "completed"
    assert sorted({c.transition for c in ports.calls if c.port == "agent_runner"}) == [
        "agent_result:b", "agent_result:c"]


def test_retry_only_refuses_when_a_dependent_has_started(tmp_path: Path) -> None:
    path = _write(tmp_path / "run.json", [{"id": "a", "depends_on": []},
                                          {"id": "b", "depends_on": ["a"]}])
    pe.drive(path, _verdicts(set()))
    before = path.read_bytes()
    with pytest.raises(pe.UsageError, match="slice 'b' depends on 'a' and has started"):
        pe.retry(path, "a", only=True)
    assert path.read_bytes() == before
    run = pe.retry(path, "b", only=True)
    assert [s.status for s in run.slices] == ["completed", "pending"]


def test_retry_run_complete_resets_the_failed_verdicts(tmp_path: Path) -> None:
    path = _write(tmp_path / "run.json", [{"id": "a", "depends_on": []},
                                          {"id": "b", "depends_on": []}])
    pe.drive(path, _verdicts({"b"}))
    run = pe.retry(path, "run_complete")
    assert [s.status for s in run.slices] == ["completed", "pending"]
    assert pe.drive(path, _verdicts(set())).status == "completed"


def test_retry_refusals(tmp_path: Path) -> None:
    path = _write(tmp_path / "run.json", [{"id": "a", "depends_on": []}])
    with pytest.raises(pe.UsageError, match="nothing to retry"):
        pe.retry(path, "a")
    with pytest.raises(pe.UsageError, match=r"neither a slice .* nor a step"):
        pe.retry(path, "nope")
    pe.drive(path, _verdicts(set()), max_firings=8)
    with pytest.raises(pe.UsageError, match="slices have started: retry the slices"):
        pe.retry(path, "worktree_create")


def test_retry_calls_the_ports_reset_hook_first(tmp_path: Path) -> None:
    path = _write(tmp_path / "run.json", [{"id": "a", "depends_on": []},
                                          {"id": "b", "depends_on": ["a"]}])
    pe.drive(path, _verdicts(set()))
    seen: list[tuple[str, list[str]]] = []

    class Ports:
        def reset_slices(self, run_path: Path, run: pe.Run, ids: list[str]) -> None:
            seen.append((run.run_id, ids))

    pe.retry(path, "a", ports=Ports())
    assert seen == [("op", ["a", "b"])]

    class Broken:
        def reset_slices(self, run_path: Path, run: pe.Run, ids: list[str]) -> None:
            raise OSError("branch is checked out elsewhere")

    pe.drive(path, _verdicts(set()))
    before = path.read_bytes()
    with pytest.raises(pe.PortError, match=r"reset_slices hook failed .* nothing was reset"):
        pe.retry(path, "b", ports=Broken())
    assert path.read_bytes() == before


def test_amend_adds_a_slice_to_a_half_done_run_then_drives_to_completion(
        tmp_path: Path) -> None:
    path = _write(tmp_path / "run.json", [{"id": "a", "depends_on": []},
                                          {"id": "b", "depends_on": ["a"]},
                                          {"id": "old", "depends_on": []}],
                  template="minimal")
    pe.drive(path, FakePorts(), max_firings=2)  # start, a
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"slices": [
        {"id": "a", "depends_on": []},
        {"id": "b", "depends_on": ["a", "c"], "meta": {"note": "now after c"}},
        {"id": "c", "depends_on": ["a"], "title": "new"}]}))
    run = pe.amend(path, plan)
    assert [s.id for s in run.slices] == ["a", "b", "c"]
    assert run.slice("b").depends_on == ("a", "c") and run.slice("a").status == "done"
    events, _ = pe.read_journal(pe.journal_path(path))
    amended = [e for e in events if e.kind == "plan_amended"]
    assert amended[0].change == {"added": ["c"], "removed": ["old"], "changed": ["b"]}
    ports = FakePorts()
    assert pe.drive(path, ports).status == "completed"
    assert [c.transition for c in ports.calls] == ["execute:c", "execute:b"]


def test_amend_refuses_to_change_or_remove_a_started_slice(tmp_path: Path) -> None:
    path = _write(tmp_path / "run.json", [{"id": "a", "depends_on": []},
                                          {"id": "b", "depends_on": []}],
                  template="minimal")
    pe.drive(path, FakePorts(), max_firings=2)
    before = path.read_bytes()
    with pytest.raises(pe.UsageError, match=r"slice 'a' has started .* 'petri-exec retry RUN a'"):
        pe.amend(path, {"slices": [{"id": "a", "depends_on": [], "title": "x"},
                                   {"id": "b", "depends_on": []}]})
    with pytest.raises(pe.UsageError, match="cannot be removed"):
        pe.amend(path, {"slices": [{"id": "b", "depends_on": []}]})
    with pytest.raises(pe.RunFileError, match=r"slices\[1\].depends_on\[0\]: unknown slice"):
        pe.amend(path, {"slices": [{"id": "a", "depends_on": []},
                                   {"id": "b", "depends_on": ["zz"]}]})
    with pytest.raises(pe.RunFileError, match="cycle"):
        pe.amend(path, {"slices": [{"id": "a", "depends_on": []},
                                   {"id": "b", "depends_on": ["c"]},
                                   {"id": "c", "depends_on": ["b"]}]})
    assert path.read_bytes() == before


def test_operations_are_refused_while_a_driver_holds_the_run(tmp_path: Path) -> None:
    path = _write(tmp_path / "run.json", [{"id": "a", "depends_on": []}], template="minimal")
    pe.drive(path, FakePorts())
    from petri_exec.engine.lock import run_lock

    with run_lock(path):
        with pytest.raises(pe.RunLockedError):
            pe.retry(path, "a")
        with pytest.raises(pe.RunLockedError):
            pe.amend(path, {"slices": []})


def test_cli_retry_and_amend(tmp_path: Path) -> None:
    slices = [{"id": "gen", "depends_on": [], "meta": {"run": "echo 1 > n.txt",
                                                      "verify": "test -s n.txt"}},
              {"id": "check", "depends_on": ["gen"],
               "meta": {"run": "echo bad > t.txt", "verify": "grep -q fine t.txt"}}]
    _write(tmp_path / "run.json", slices)
    r = _cli("drive", "run.json", "--ports", "shell", "--progress", "quiet", cwd=tmp_path)
    assert r.returncode == 3 and "verification_failed" in r.stdout
    r = _cli("retry", "run.json", "check", cwd=tmp_path)
    assert r.returncode == 0 and "check will run again" in r.stdout
    plan = {"slices": [dict(slices[0]), {**slices[1], "meta": {"run": "echo fine > t.txt",
                                                               "verify": "grep -q fine t.txt"}}]}
    (tmp_path / "bad.json").write_text('{"slices": 5}')
    bad = _cli("amend", "run.json", "bad.json", cwd=tmp_path)
    assert (bad.returncode, bad.stderr) == (
        2, "petri-exec: error: bad.json: slices: expected an array, got a number\n")
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    r = _cli("amend", "run.json", "plan.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = _cli("drive", "run.json", "--ports", "shell", "--progress", "quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    bad = _cli("retry", "run.json", "nope", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    (tmp_path / "bad.json").write_text("{")
    bad = _cli("amend", "run.json", "bad.json", cwd=tmp_path)
    assert bad.returncode == 2 and "bad.json" in bad.stderr and "invalid JSON" in bad.stderr

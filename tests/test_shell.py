"""The built-in shell ports: meta.run, meta.verify, logs per slice and attempt, landing."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import petri_exec as pe
from petri_exec.ports.shell import ShellPorts, direct_argv

Make = Callable[..., Path]


def _journal(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in pe.journal_path(run).read_text().splitlines()]


def test_commands_run_in_the_run_directory_with_one_log_per_slice(make_run: Make) -> None:
    run = make_run([
        {"id": "a", "depends_on": [], "meta": {"run": "pwd > where.txt; echo out; echo err >&2"}},
        {"id": "b", "depends_on": ["a"],
         "meta": {"run": 'echo "$PETRI_SLICE_ID $PETRI_ATTEMPT $PETRI_RUN_ID" > b.txt'}},
    ], run_id="sh", template="minimal")
    out = pe.drive(run, ShellPorts())
    assert out.status == "completed", out.reason
    work = run.parent / "run.work"  # <run stem>.work
    assert Path((work / "where.txt").read_text().strip()).resolve() == work.resolve()
    assert (work / "b.txt").read_text() == "b 1 sh\n"
    assert (work / "logs" / "a.run.1.log").read_text() == "out\nerr\n"
    assert sorted(p.name for p in (work / "logs").iterdir()) == ["a.run.1.log", "b.run.1.log"]
    facts = json.loads(run.read_text())["slices"][0]["facts"]
    assert facts == {"exit_code": 0, "log": "run.work/logs/a.run.1.log"}


def test_a_non_zero_exit_halts_with_the_code_and_the_log_then_retries(make_run: Make) -> None:
    run = make_run([{"id": "a", "depends_on": [],
                     "meta": {"run": 'echo "try $PETRI_ATTEMPT"; [ "$PETRI_ATTEMPT" -ge 2 ] '
                                     "|| exit 7"}}], run_id="retry", template="minimal")
    out = pe.drive(run, ShellPorts())
    assert out.status == "halted" and out.step == "execute:a"
    assert out.reason == "meta.run exited with 7 (log: run.work/logs/a.run.1.log)"
    doc = json.loads(run.read_text())                  # nothing recorded for the failure
    assert (doc["status"], doc["slices"][0]["status"]) == ("running", "pending")
    assert doc["slices"][0].get("facts", {}) == {}
    failed = [e for e in _journal(run) if e["kind"] == "transition_failed"]
    assert failed[0]["facts"] == {"exit_code": 7, "log": "run.work/logs/a.run.1.log"}
    logs = run.parent / "run.work" / "logs"
    assert (logs / "a.run.1.log").read_text() == "try 1\n"
    out = pe.drive(run, ShellPorts())                   # attempt 2 gets its own log
    assert out.status == "completed"
    assert (logs / "a.run.2.log").read_text() == "try 2\n"
    assert (logs / "a.run.1.log").read_text() == "try 1\n"


def test_meta_verify_gives_the_verdict(make_run: Make) -> None:
    run = make_run([
        {"id": "good", "depends_on": [], "meta": {"run": "echo 1 > good.txt",
                                                  "verify": "test -s good.txt"}},
        {"id": "bad", "depends_on": [], "meta": {"run": "true", "verify": "exit 1"}},
        {"id": "none", "depends_on": [], "meta": {"run": "true"}},
    ], run_id="v")
    out = pe.drive(run, ShellPorts())
    assert (out.status, out.step, out.reason) == ("halted", "run_complete", "verification_failed")
    slices = {s["id"]: s["facts"] for s in json.loads(run.read_text())["slices"]}
    assert slices["good"]["verdict"] == "passed"
    assert slices["bad"]["verdict"] == "failed"
    assert slices["bad"]["verify_log"] == "run.work/logs/bad.verify.1.log"
    assert slices["none"]["verdict"] == "passed" and "verify_log" not in slices["none"]


def test_missing_meta_run_fails_with_the_fix(make_run: Make) -> None:
    run = make_run([{"id": "a", "depends_on": []}], template="minimal")
    out = pe.drive(run, ShellPorts())
    assert out.status == "halted"
    assert out.reason is not None and "has no meta.run command" in out.reason
    assert '"meta": {"run": "<shell command>"}' in out.reason


def test_a_command_that_outlives_its_timeout_fails(make_run: Make) -> None:
    run = make_run([{"id": "a", "depends_on": [], "meta": {"run": "sleep 5"}}],
                   run_id="slow", template="minimal")
    out = pe.drive(run, ShellPorts(timeout_s=0.2))
    assert out.status == "halted" and out.reason is not None
    assert out.reason.startswith("meta.run timed out after 0.2s (its process group was ended)"
                                 " (log: run.work/logs/a.run.1.log")


def test_workspace_creates_the_run_dir_and_land_records_without_git(make_run: Make) -> None:
    run = make_run([{"id": "a", "depends_on": [],
                     "meta": {"run": "mkdir -p out && echo x > out/a.txt"}}], run_id="land")
    out = pe.drive(run, ShellPorts())
    assert out.status == "completed", out.reason
    doc = json.loads(run.read_text())
    assert doc["facts"]["work_dir"] == "run.work"
    assert doc["facts"]["would_land"] == ["out/a.txt"]      # logs are not landed
    assert not (run.parent / "run.work" / ".git").exists()
    empty = make_run([{"id": "a", "depends_on": [], "meta": {"run": "true"}}],
                     name="empty.json", run_id="empty")
    out = pe.drive(empty, ShellPorts())
    assert (out.status, out.reason) == ("halted", "promotion_no_changes")


@settings(deadline=None)  # a scheduling stall is not a failure
@given(st.text(alphabet="ab c-./=$|&;<>()`'\"\\*?[]#~{}!\n\t", max_size=20))
def test_direct_argv_spawns_only_plain_words(command: str) -> None:
    argv = direct_argv(command)
    if argv is None:
        return
    assert argv == command.split() and argv
    assert not set(command) & set("$|&;<>()`'\"\\*?[]#~{}!\n")
    assert "=" not in argv[0]


def test_direct_argv_examples() -> None:
    assert direct_argv("true") == ["true"]
    assert direct_argv("  sleep 0.1 ") == ["sleep", "0.1"]
    assert direct_argv("./build.sh --out=dist") == ["./build.sh", "--out=dist"]
    for shell_only in ("true --help", "cd sub", "echo hi", "X=1 prog", "a > b", "a; b",
                       "a && b", "prog $HOME", "prog '*'", "exit 3", "", "   "):
        assert direct_argv(shell_only) is None, shell_only


def test_direct_spawn_keeps_the_process_group_and_the_shell_fallbacks(make_run: Make) -> None:
    run = make_run([
        {"id": "group", "depends_on": [], "meta": {"run": "./pg"}},
        {"id": "noshebang", "depends_on": ["group"], "meta": {"run": "./plain"}},
        {"id": "missing", "depends_on": ["noshebang"], "meta": {"run": "no-such-program-x"}},
    ], run_id="direct", template="minimal")
    work = run.parent / "run.work"
    work.mkdir()
    pg = work / "pg"
    pg.write_text('#!/bin/sh\necho "$$ $(ps -o pgid= -p $$)"\n')
    plain = work / "plain"
    plain.write_text("echo via-the-shell\n")  # no #!: exec fails, the shell runs it
    for f in (pg, plain):
        f.chmod(0o755)
    out = pe.drive(run, ShellPorts())
    assert out.status == "halted" and out.step == "execute:missing"
    logs = work / "logs"
    pid, pgid = (logs / "group.run.1.log").read_text().split()
    assert pid == pgid  # spawned directly, still the leader of its own process group
    assert (logs / "noshebang.run.1.log").read_text() == "via-the-shell\n"
    assert out.reason == "meta.run exited with 127 (log: run.work/logs/missing.run.1.log)"
    assert "no-such-program-x" in (logs / "missing.run.1.log").read_text()


def test_a_directly_spawned_command_ends_with_its_timeout(make_run: Make) -> None:
    run = make_run([{"id": "slow", "depends_on": [], "meta": {"run": "sleep 30"}}],
                   run_id="slow", template="minimal")
    out = pe.drive(run, ShellPorts(timeout_s=0.5, kill_after_s=1))
    assert out.status == "halted"
    assert "timed out after 0.5s" in (out.reason or "")


def _tool(directory: Path, name: str, says: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    tool = directory / name
    tool.write_text(f"#!/bin/sh\necho {says}\n")
    tool.chmod(0o755)
    return tool


def test_a_relative_path_entry_is_searched_from_the_work_dir_by_the_spawn(
        make_run: Make, monkeypatch: Any, tmp_path: Path) -> None:
    # 'bin' means <run stem>.work/bin for the command: looked up from the drive's own
    # directory (which has no bin/) it would be skipped for the later entry's tool
    run = make_run([{"id": "a", "depends_on": [], "meta": {"run": "tool"}}],
                   run_id="rel", template="minimal")
    work = run.parent / "run.work"
    _tool(work / "bin", "tool", "from-the-work-dir")
    _tool(tmp_path / "elsewhere", "tool", "from-later-on-path")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", f"bin{os.pathsep}{tmp_path / 'elsewhere'}{os.pathsep}"
                       f"{os.environ['PATH']}")
    assert pe.drive(run, ShellPorts()).status == "completed"
    assert (work / "logs" / "a.run.1.log").read_text() == "from-the-work-dir\n"


def test_a_program_removed_after_its_lookup_falls_back_to_the_shell(
        make_run: Make, monkeypatch: Any, tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    tool = _tool(tools, "tool", "ran")
    run = make_run([
        {"id": "a", "depends_on": [], "meta": {"run": "tool"}},            # looked up here
        {"id": "b", "depends_on": ["a"], "meta": {"run": f"rm {tool}"}},
        {"id": "c", "depends_on": ["b"], "meta": {"run": "tool"}},          # gone: the shell
    ], run_id="gone", template="minimal")
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    out = pe.drive(run, ShellPorts())
    assert out.status == "halted" and out.step == "execute:c"
    assert out.reason == "meta.run exited with 127 (log: run.work/logs/c.run.1.log)"
    logs = run.parent / "run.work" / "logs"
    assert (logs / "a.run.1.log").read_text() == "ran\n"
    assert "tool" in (logs / "c.run.1.log").read_text()  # the shell's "not found"


def test_each_drive_reads_the_environment_and_path_again(
        make_run: Make, monkeypatch: Any, tmp_path: Path) -> None:
    ports = ShellPorts()  # one ports object for two drives
    first = make_run([{"id": "a", "depends_on": [], "meta": {"run": "tool"}}],
                     name="one.json", run_id="one", template="minimal")
    second = make_run([{"id": "a", "depends_on": [], "meta": {"run": "tool"}}],
                      name="two.json", run_id="two", template="minimal")
    _tool(tmp_path / "v1", "tool", "v1 $PETRI_RUN_ID $PETRI_SETTING")
    _tool(tmp_path / "v2", "tool", "v2 $PETRI_RUN_ID $PETRI_SETTING")
    path = os.environ["PATH"]
    monkeypatch.setenv("PATH", f"{tmp_path / 'v1'}{os.pathsep}{path}")
    monkeypatch.setenv("PETRI_SETTING", "first")
    assert pe.drive(first, ports).status == "completed"
    monkeypatch.setenv("PATH", f"{tmp_path / 'v2'}{os.pathsep}{path}")
    monkeypatch.setenv("PETRI_SETTING", "second")
    assert pe.drive(second, ports).status == "completed"
    assert (tmp_path / "one.work" / "logs" / "a.run.1.log").read_text() == "v1 one first\n"
    assert (tmp_path / "two.work" / "logs" / "a.run.1.log").read_text() == "v2 two second\n"

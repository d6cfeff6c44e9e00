"""``petri-exec`` with ``--ports git`` and ``petri-exec clean`` (petri_exec/cli/git.py), run
as subprocesses through the installed console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .gitutil import (
    AGENT,
    git,
    isolated_git,  # noqa: F401  (autouse fixture)
    make_repo,
    task,
    write_git_run,
)

EXE = str(Path(sys.executable).parent / "petri-exec")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], cwd=cwd, capture_output=True, text=True,
                          env=dict(os.environ), check=False, timeout=300)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "repo")
    write_git_run(repo / "run.json", [
        {"id": "a", "title": "First", "meta": task("- write a.txt: a\\n")},
        {"id": "b", "depends_on": ["a"], "meta": task("- write b.txt: b\\n")}])
    return repo


def _unchanged(repo: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in repo.iterdir() if p.is_file()}


@pytest.mark.parametrize(("args", "message"), [
    (("--ports", "git"), "petri-exec: error: --ports git needs --agent CMD: the agent command "
                         "line"),
    (("--ports", "shell", "--agent", "x", "--base", "main"),
     "petri-exec: error: --agent, --base configure the git ports; add --ports git (got "
     "--ports shell)"),
    (("--ports", "git", "--agent", AGENT, "--base", "nope"),
     "petri-exec: error: base branch 'nope' does not exist in"),
    (("--ports", "git", "--agent", AGENT, "--author", "someone"),
     "petri-exec: error: author 'someone' is not 'Name <email>'"),
])
@pytest.mark.parametrize("command", ["drive", "fire"])
def test_bad_git_options_are_one_line_exit_2(repo: Path, command: str, args: tuple[str, ...],
                                             message: str) -> None:
    before = _unchanged(repo)
    extra = ("worktree_create",) if command == "fire" else ()
    r = cli(command, "run.json", *extra, *args, cwd=repo)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith(message) and r.stderr.count("\n") == 1, r.stderr
    assert _unchanged(repo) == before
    assert git(repo, "branch", "--list", "petri/*") == ""


def test_not_a_repository_exit_2(tmp_path: Path) -> None:
    write_git_run(tmp_path / "run.json", [{"id": "a"}])
    r = cli("drive", "run.json", "--ports", "git", "--agent", AGENT, cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr == (f"petri-exec: error: {tmp_path} (the run file's directory) is not in a "
                        "git repository; pass --repo PATH of a repository (or git init one)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


def test_check_runs_the_preflight_only(repo: Path) -> None:
    r = cli("check", "run.json", "--ports", "git", "--agent", AGENT, cwd=repo)
    assert r.returncode == 0, r.stderr
    assert f"  ports git: repository {repo}\n" in r.stdout
    assert "  ports git: run branch petri/feature (new)\n" in r.stdout
    j = json.loads(cli("check", "run.json", "--json", "--ports", "git", "--agent", AGENT,
                       cwd=repo).stdout)
    assert j["ports"]["spec"] == "git" and j["ports"]["preflight"][1].startswith("base main at")
    assert git(repo, "branch", "--list", "petri/*") == ""
    assert not (repo / "run.work").exists() and not (repo / "run.events.jsonl").exists()
    r = cli("check", "run.json", "--ports", "git", cwd=repo)
    assert r.returncode == 2 and "--ports git needs --agent CMD" in r.stderr


def test_drive_fire_and_clean(repo: Path) -> None:
    r = cli("drive", "run.json", "--ports", "git", "--agent", AGENT, "--json", cwd=repo)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["run_status"] == "promotion_prepared"
    r = cli("clean", "run.json", "--branches", cwd=repo)
    assert r.returncode == 2
    assert "is at 'promotion_prepared', not finished ('promoted') nor abandoned" in r.stderr
    r = cli("fire", "run.json", "host_promotion", "--ports", "git", "--agent", AGENT, cwd=repo)
    assert r.returncode == 0, r.stderr
    assert (repo / "b.txt").read_text() == "b\n"
    r = cli("clean", "run.json", "--branches", cwd=repo)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "run.json: run 'feature': removed 1 worktree(s), 3 branch(es)",
        f"  {repo / 'run.work' / 'git' / 'run'}", "  petri/feature",
        "  petri/feature.slices/a", "  petri/feature.slices/b"]
    assert git(repo, "branch", "--list", "petri/*") == ""
    r = cli("clean", "run.json", cwd=repo)
    assert r.returncode == 0 and "removed 0 worktree(s)" in r.stdout


def test_agent_failure_exit_3_names_the_command_and_log(repo: Path) -> None:
    r = cli("drive", "run.json", "--ports", "git", "--agent", "exit 7", "--progress", "quiet",
            cwd=repo)
    assert r.returncode == 3
    assert "step agent_result:a; reason: agent command 'exit 7' exited with 7; nothing " \
           "committed (log: run.work/logs/a.agent.1.log)" in r.stdout


def test_working_tree_policy_and_test_command_from_the_cli(repo: Path) -> None:
    (repo / "wip.txt").write_text("uncommitted\n")
    r = cli("drive", "run.json", "--ports", "git", "--agent", AGENT, "--test",
            "test -f wip.txt", "--source-policy", "working-tree", "--max-parallel", "2",
            "--json", cwd=repo)
    assert r.returncode == 0, r.stdout + r.stderr
    run = json.loads((repo / "run.json").read_text())
    assert run["facts"]["carried"] == ["wip.txt"]
    assert {s["facts"]["verdict"] for s in run["slices"]} == {"passed"}


def test_help_lists_the_git_options() -> None:
    r = subprocess.run([EXE, "drive", "--help"], capture_output=True, text=True, check=True)
    for flag in ("--agent CMD", "--test CMD", "--setup CMD", "--repo PATH", "--base BRANCH",
                 "--source-policy {head,working-tree}", "--land {ff,merge}"):
        assert flag in r.stdout, flag
    r = subprocess.run([EXE, "--help"], capture_output=True, text=True, check=True)
    assert "clean" in r.stdout


def test_retry_with_the_git_ports_resets_the_slice_branch(repo: Path) -> None:
    write_git_run(repo / "run.json", [
        {"id": "a", "meta": {"prompt": "x", "verify": "test -f fixed.txt"}}])
    r = cli("drive", "run.json", "--ports", "git", "--agent", "touch broken.txt", cwd=repo)
    assert r.returncode == 3 and "verification_failed" in r.stdout
    assert git(repo, "branch", "--list", "petri/feature.slices/a") != ""
    r = cli("retry", "run.json", "a", "--ports", "git", cwd=repo)
    assert r.returncode == 0, r.stderr
    assert git(repo, "branch", "--list", "petri/feature.slices/a") == ""
    r = cli("drive", "run.json", "--ports", "git", "--agent", "touch fixed.txt", "--json",
            cwd=repo)
    assert r.returncode == 0, r.stdout + r.stderr
    assert git(repo, "ls-tree", "--name-only", "petri/feature").split() == [
        "README.md", "fixed.txt"]

"""The git ports' preflight (petri_exec/ports/gitcheck.py): bad input is one line, before
anything is touched."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import petri_exec as pe
from petri_exec.ports.gitcheck import branch_name_problem

from .gitutil import (
    AGENT,
    git,
    isolated_git,  # noqa: F401  (autouse fixture)
    make_repo,
    write_git_run,
)


def _refused(run: Path, ports: pe.GitPorts, pattern: str) -> None:
    """drive() and fire() refuse with ``pattern`` and leave every file as it was."""
    before = {p: p.read_bytes() for p in run.parent.iterdir() if p.is_file()}
    for call in (lambda: pe.drive(run, ports), lambda: pe.fire(run, "worktree_create", ports)):
        with pytest.raises(pe.GitRepoError, match=pattern) as info:
            call()
        assert "\n" not in str(info.value)
        assert isinstance(info.value, ValueError)
    assert {p: p.read_bytes() for p in run.parent.iterdir() if p.is_file()} == before


def test_not_a_repository(tmp_path: Path) -> None:
    run = write_git_run(tmp_path / "plain" / "run.json", [{"id": "a"}])
    _refused(run, pe.GitPorts(agent=AGENT), re.escape(
        f"{run.parent} (the run file's directory) is not in a git repository; pass --repo "
        "PATH of a repository (or git init one)"))
    _refused(run, pe.GitPorts(tmp_path / "nowhere", agent=AGENT), re.escape(
        f"--repo {tmp_path / 'nowhere'}: no such directory; pass the path of a git repository"))


def test_repository_without_commits(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    git(tmp_path / "empty", "init", "-q", "-b", "main")
    run = write_git_run(tmp_path / "empty" / "run.json", [{"id": "a"}])
    _refused(run, pe.GitPorts(agent=AGENT), re.escape(
        f"repository {tmp_path / 'empty'} has no commits; make a first commit (git commit "
        "--allow-empty -m 'initial commit') and try again"))


def test_unknown_base(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    run = write_git_run(repo / "run.json", [{"id": "a"}])
    _refused(run, pe.GitPorts(agent=AGENT, base="develop"), re.escape(
        f"base branch 'develop' does not exist in {repo}; known branches: main; pass "
        "--base BRANCH"))


def test_detached_head_needs_a_base(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "checkout", "-q", "--detach")
    run = write_git_run(repo / "run.json", [{"id": "a"}])
    _refused(run, pe.GitPorts(agent=AGENT), "HEAD is detached, so there is no current branch")
    assert pe.GitPorts(agent=AGENT, base="main").preflight(run, pe.load_run(run)).base == "main"


def test_bare_repository(tmp_path: Path) -> None:
    make_repo(tmp_path / "src")
    git(tmp_path, "clone", "-q", "--bare", str(tmp_path / "src"), str(tmp_path / "bare.git"))
    run = write_git_run(tmp_path / "runs" / "run.json", [{"id": "a"}])
    _refused(run, pe.GitPorts(tmp_path / "bare.git", agent=AGENT), "is a bare repository")


def test_foreign_worktree_path(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    run = write_git_run(repo / "run.json", [{"id": "a"}])
    squatter = repo / "run.work" / "git" / "run"
    squatter.mkdir(parents=True)
    (squatter / "notes.txt").write_text("mine\n")
    _refused(run, pe.GitPorts(agent=AGENT), re.escape(
        f"{squatter} exists but is not a worktree of {repo}, so it is not this run's; move "
        "it away (or run petri-exec clean on the run that made it)"))
    assert (squatter / "notes.txt").read_text() == "mine\n"
    # a worktree of another branch at a slice's path is not ours either
    (squatter / "notes.txt").unlink()
    squatter.rmdir()
    other = repo / "run.work" / "git" / "slices" / "a"
    git(repo, "worktree", "add", "-q", "-b", "other", str(other))
    _refused(run, pe.GitPorts(agent=AGENT), "exists but is a worktree of another branch")


def test_bad_branch_names(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    run = write_git_run(repo / "run.json", [{"id": "a"}], run_id="my run")
    _refused(run, pe.GitPorts(agent=AGENT), re.escape(
        f"{run}: run_id: 'my run' cannot name the branch petri/<run_id>: git branch names "
        "cannot hold spaces"))
    run = write_git_run(repo / "run.json", [{"id": "ok"}, {"id": "a..b"}])
    _refused(run, pe.GitPorts(agent=AGENT), re.escape(
        f"{run}: slices[1].id: 'a..b' cannot name a git branch: it contains '..'"))
    assert branch_name_problem("v1.2") is None
    assert branch_name_problem("x.lock") == "it ends with '.lock'"
    assert branch_name_problem(".hidden") == "it starts or ends with '.'"


def test_stale_run_branch_of_an_earlier_run(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "checkout", "-q", "-b", "petri/feature")
    (repo / "old.txt").write_text("old run\n")
    git(repo, "add", "old.txt")
    git(repo, "commit", "-q", "-m", "old")
    git(repo, "checkout", "-q", "main")
    run = write_git_run(repo / "run.json", [{"id": "a"}])
    _refused(run, pe.GitPorts(agent=AGENT), re.escape(
        "branch petri/feature already exists with commits that are not on 'main' (an earlier "
        "run with this run_id?)"))


def test_recorded_repository_and_base_win(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "branch", "develop")
    run = write_git_run(repo / "run.json", [{"id": "a"}])
    assert pe.fire(run, "worktree_create", pe.GitPorts(agent=AGENT)).status == "fired"
    _refused(run, pe.GitPorts(agent=AGENT, base="develop"), re.escape(
        f"{run}: run 'feature' started from base 'main'; drop --base or pass --base main"))
    other = make_repo(tmp_path / "other")
    _refused(run, pe.GitPorts(other, agent=AGENT), re.escape(
        f"run 'feature' started in repository {repo}; drop --repo or pass --repo {repo}"))
    found = pe.GitPorts(agent=AGENT).preflight(run, pe.load_run(run))
    assert (found.run_branch_exists, found.run_worktree_exists) == (True, True)
    assert found.lines()[2] == "run branch petri/feature (exists: the run resumes on it)"


def test_in_memory_runs_are_refused() -> None:
    with pytest.raises(pe.GitRepoError, match="the git ports need a run file"):
        pe.drive(pe.Run("r", (pe.Slice("a"),)), pe.GitPorts(agent=AGENT))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"agent": " "}, "the git ports need an agent command (--agent CMD)"),
    ({"agent": "x", "source_policy": "all"}, "source_policy='all': use 'head' or"),
    ({"agent": "x", "land": "rebase"}, "land='rebase': use 'ff' (fast-forward) or 'merge'"),
    ({"agent": "x", "author": "nobody"}, "author 'nobody' is not 'Name <email>'"),
    ({"agent": "x", "timeout_s": 0}, "timeout_s=0 must be a positive finite number of seconds"),
    ({"agent": "x", "test": ""}, "test='' must be a non-empty string or None"),
])
def test_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(pe.UsageError, match=re.escape(message)):
        pe.GitPorts(**kwargs)  # type: ignore[arg-type]

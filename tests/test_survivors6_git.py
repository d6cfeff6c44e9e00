"""Deterministic tests for the git ports' mutants the sixth mutation sample left alive (issue
19, seed 25; the others are in tests/test_survivors6.py):
each test here fails on the survivor it names and passes on the real code. They run the
ports in-process (``pe.drive``, ``pe.fire``, the module functions) over real repositories
in temporary directories, so a mutant of the package is the code they exercise."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import petri_exec as pe
from petri_exec.ports.gitcmd import Git
from petri_exec.ports.worktree import remove_worktree

from .gitutil import (
    AGENT,
    git,
    isolated_git,  # noqa: F401  (autouse fixture)
    make_repo,
    task,
    write_git_run,
)


def _commit_on(repo: Path, branch: str, name: str, text: str) -> str:
    """Commit ``name`` (``text``) on ``branch``, which is checked out in ``repo``."""
    git(repo, "checkout", "-q", branch)
    (repo / name).write_text(text)
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", f"edit {name}")
    return git(repo, "rev-parse", branch)


# -- ports.git.GitPorts._worktree_create: the base branch vanishing after preflight ---------

def test_a_base_branch_deleted_after_preflight_halts_worktree_create_naming_the_fix(
        tmp_path: Path) -> None:
    # git.GitPorts._worktree_create mutmut_13: "pass --base BRANCH" -> "pass --base
    # branch"; preflight refuses a missing base first, so the base disappears only when
    # worktree_create starts
    repo = make_repo(tmp_path / "repo", {"app.txt": "v1\n"})
    git(repo, "branch", "trunk")
    run = write_git_run(repo / "run.json", [
        {"id": "s", "meta": task("- write feature.txt: new\\n")}])
    refs_before = git(repo, "for-each-ref", "--format=%(refname) %(objectname)")
    deleted: list[str] = []

    def on_event(event: pe.Event) -> None:
        if event.kind == "transition_started" and event.transition == "worktree_create":
            git(repo, "branch", "-D", "trunk")
            deleted.append(event.transition)

    out = pe.drive(run, pe.GitPorts(agent=AGENT, base="trunk"), on_event=on_event)
    assert deleted == ["worktree_create"]
    assert (out.status, out.step) == ("halted", "worktree_create"), out
    assert out.reason == (f"base branch 'trunk' does not exist in {repo}; "
                          "pass --base BRANCH")
    # nothing else changed: no run branch, no worktree, main where it was
    refs_after = git(repo, "for-each-ref", "--format=%(refname) %(objectname)")
    assert refs_after.splitlines() == [line for line in refs_before.splitlines()
                                       if not line.startswith("refs/heads/trunk ")]
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert (repo / "app.txt").read_text() == "v1\n"
    assert not (repo / "feature.txt").exists()


# -- ports.gitland.host_land: a prepared merge is reused only on the base it was made on ----

def test_a_merge_landing_remerges_when_the_base_moved_after_promotion(tmp_path: Path) -> None:
    # gitland.host_land mutmut_37 (`and land_base == base_tip` -> `or`): the merge commit
    # promotion prepared on the old base tip is landed even though the base moved since,
    # which drops the base's new commit from the base branch
    repo = make_repo(tmp_path / "repo", {"app.txt": "v1\n"})
    run = write_git_run(repo / "run.json", [
        {"id": "s", "meta": task("- write feature.txt: new\\n")}])
    ports = pe.GitPorts(agent=AGENT, land="merge")
    out = pe.drive(run, ports)
    assert out.status == "completed", out
    prepared = out.run.facts["land_commit"]
    assert out.run.facts["land_base"] == git(repo, "rev-parse", "main")
    assert out.run.facts["land_mode"] == "merge"
    moved = _commit_on(repo, "main", "other.txt", "meanwhile\n")
    fired = pe.fire(run, "host_promotion", ports)
    assert fired.status == "fired", fired
    git(repo, "merge-base", "--is-ancestor", moved, "main")  # the base's new commit stays
    git(repo, "merge-base", "--is-ancestor", "petri/feature", "main")  # and the run's work
    main = git(repo, "rev-parse", "main")
    assert main != prepared
    assert git(repo, "rev-parse", f"{main}^1", f"{main}^2").split() == [
        moved, git(repo, "rev-parse", "petri/feature")]
    assert (repo / "feature.txt").read_text() == "new\n"
    assert (repo / "other.txt").read_text() == "meanwhile\n"
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""


# -- ports.worktree.remove_worktree: a registered worktree whose directory is gone ----------

def test_removing_a_worktree_whose_directory_was_deleted_drops_its_registration(
        tmp_path: Path) -> None:
    # worktree.remove_worktree mutmut_7 (`.get(_resolved(path))` -> `.get(None)`): the entry
    # of a worktree deleted with rm -rf (no directory, so no admin dir found from its .git
    # file) is never found, so it reports nothing to remove and leaves the registration
    repo = make_repo(tmp_path / "repo")
    wt = tmp_path / "trees" / "gone"
    git(repo, "worktree", "add", "-q", "-b", "side", str(wt))
    shutil.rmtree(wt)
    assert not wt.exists()
    assert f"worktree {wt.resolve()}" in git(repo, "worktree", "list", "--porcelain")
    g = Git(repo, dict(os.environ))
    assert remove_worktree(g, wt) is True
    listing = git(repo, "worktree", "list", "--porcelain")
    assert str(wt.resolve()) not in listing and "gone" not in listing
    assert listing.count("worktree ") == 1
    assert remove_worktree(g, wt) is False  # idempotent: nothing left to remove
    assert git(repo, "rev-parse", "--verify", "refs/heads/side")  # the branch stays

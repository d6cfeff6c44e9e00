"""The ports' error messages pinned in full (issue 19): mutation testing showed messages that
the tests matched only in part (a prefix, a regex, a CLI subprocess that imports the
unmutated package), so a mutant that changes a message's wording survived. Each test here
reaches one error path of the git ports, the shell ports, the port protocol or the
worktree helpers in process (``pe.drive``, ``pe.fire``, the ports' methods) over real
repositories in temporary directories, and asserts the whole message with ``==``; where the
docs promise that a refusal touches nothing, it checks that too."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import petri_exec as pe
from petri_exec.ports.gitcmd import Git, Identity
from petri_exec.ports.protocol import normalise_result
from petri_exec.ports.shell import ShellPorts
from petri_exec.ports.worktree import ensure_worktree

from .gitutil import (
    AGENT,
    git,
    isolated_git,  # noqa: F401  (autouse fixture)
    make_repo,
    task,
    write_git_run,
)

Make = Callable[..., Path]
ONE_SLICE = [{"id": "s", "meta": task("- write feature.txt: new\\n")}]


def _refs(repo: Path) -> list[str]:
    """Every ref of ``repo`` with the commit it points to."""
    return git(repo, "for-each-ref", "--format=%(refname) %(objectname)").splitlines()


def _files(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (not .git) by relative path, with its bytes."""
    out: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            p = Path(dirpath) / name
            out[str(p.relative_to(directory))] = p.read_bytes()
    return out


def _ctx(run: Path, step: str, port: str) -> pe.StepContext:
    """The context of run step ``step`` of the run file ``run`` as it is now."""
    r = pe.load_run(run)
    return pe.StepContext(r.run_id, step, step, None, None, r.facts, 1,
                          f"{r.run_id}/{step}", run.parent, port, r.status, run)


def _orphan(repo: Path) -> str:
    """A commit with the base's tree and no parent (history unrelated to the base)."""
    tree = git(repo, "rev-parse", "main^{tree}")
    return git(repo, "commit-tree", tree, "-m", "unrelated")


def _during(transition: str, action: Callable[[], None]) -> Callable[[pe.Event], None]:
    """An ``on_event`` that runs ``action`` once ``transition`` starts (after preflight)."""
    def on_event(event: pe.Event) -> None:
        if event.kind == "transition_started" and event.transition == transition:
            action()
    return on_event


def _commit_on_main(repo: Path, name: str, text: str) -> str:
    (repo / name).write_text(text)
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", f"edit {name}")
    return git(repo, "rev-parse", "main")


# -- ports.git.GitPorts: arguments ---------------------------------------------------------

def test_an_unknown_source_policy_is_refused_in_full() -> None:
    with pytest.raises(pe.UsageError) as e:
        pe.GitPorts(agent="x", source_policy="all")
    assert str(e.value) == "source_policy='all': use 'head' or 'working-tree'"


# -- ports.git.GitPorts.resolve / workspace: steps the ports cannot perform -----------------

def test_resolving_a_run_without_a_file_is_refused_in_full() -> None:
    with pytest.raises(pe.GitRepoError) as e:
        pe.GitPorts(agent=AGENT).resolve(None, "feature", {})
    assert str(e.value) == ("the git ports need a run file (an in-memory run has no "
                            "directory for its worktrees); drive a run.json")


def test_the_workspace_port_refuses_a_step_it_does_not_serve(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    run = write_git_run(repo / "run.json", ONE_SLICE)
    refs = _refs(repo)
    out = pe.GitPorts(agent=AGENT).workspace(_ctx(run, "clean_up", "workspace"))
    assert out.reason == ("the git ports' workspace port does not handle step 'clean_up'; "
                          "it serves worktree_create, populate and source_copy of the "
                          "executor template")
    assert _refs(repo) == refs and not (repo / "run.work").exists()


# -- ports.git.GitPorts._worktree_create: a stale run branch appearing after preflight ------

def test_a_stale_run_branch_made_after_preflight_halts_worktree_create(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"app.txt": "v1\n"})
    run = write_git_run(repo / "run.json", ONE_SLICE)
    stale = _orphan(repo)

    def make_stale() -> None:
        git(repo, "update-ref", "refs/heads/petri/feature", stale)

    out = pe.drive(run, pe.GitPorts(agent=AGENT), on_event=_during("worktree_create",
                                                                   make_stale))
    assert (out.status, out.step) == ("halted", "worktree_create"), out
    assert out.reason == (
        "branch petri/feature already exists with commits that are not on 'main' (an earlier "
        "run with this run_id?); delete it (petri-exec clean OLD_RUN --branches, or git "
        "branch -D petri/feature) or give this run another run_id")
    assert git(repo, "rev-parse", "petri/feature") == stale  # the stale branch is kept
    assert not (repo / "run.work" / "git" / "run").exists()  # no worktree made


# -- ports.git.GitPorts._populate: a failing setup command ----------------------------------

def test_a_failing_setup_command_halts_populate_in_full(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    run = write_git_run(repo / "run.json", ONE_SLICE)
    out = pe.drive(run, pe.GitPorts(agent=AGENT, setup="exit 3"))
    assert (out.status, out.step) == ("halted", "populate"), out
    assert out.reason == ("setup command 'exit 3' exited with 3 "
                          "(log: run.work/logs/populate.setup.1.log)")
    assert (repo / "run.work" / "logs" / "populate.setup.1.log").exists()


# -- ports.git.GitPorts.agent_runner / test_runner / integrate ------------------------------

def test_agent_result_with_the_run_branch_deleted_halts_naming_worktree_create(
        tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    run = write_git_run(repo / "run.json", ONE_SLICE)

    def delete() -> None:
        git(repo, "update-ref", "-d", "refs/heads/petri/feature")

    out = pe.drive(run, pe.GitPorts(agent=AGENT), on_event=_during("agent_result:s", delete))
    assert (out.status, out.step) == ("halted", "agent_result:s"), out
    assert out.reason == ("run branch petri/feature is missing; the run's worktree_create "
                          "made it (was it deleted?)")
    assert git(repo, "branch", "--list", "petri/*") == ""  # no branch was made again
    assert not (repo / "run.work" / "git" / "slices" / "s").exists()
    assert not (repo / "feature.txt").exists()


@pytest.mark.parametrize("verify", ["  ", 5])
def test_a_verify_that_is_no_command_halts_test_result(tmp_path: Path,
                                                       verify: object) -> None:
    repo = make_repo(tmp_path / "repo")
    run = write_git_run(repo / "run.json", [
        {"id": "s", "meta": {**task("- write feature.txt: new\\n"), "verify": verify}}])
    out = pe.drive(run, pe.GitPorts(agent=AGENT))
    assert (out.status, out.step) == ("halted", "test_result:s"), out
    assert out.reason == "slice 's': meta.verify must be a shell command string"
    assert not list((repo / "run.work" / "logs").glob("s.test.*"))  # nothing was run


def test_slice_complete_with_the_slice_branch_deleted_merges_nothing(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    run = write_git_run(repo / "run.json", ONE_SLICE)
    run_tip: list[str] = []

    def delete() -> None:
        run_tip.append(git(repo, "rev-parse", "petri/feature"))
        git(repo, "update-ref", "-d", "refs/heads/petri/feature.slices/s")

    out = pe.drive(run, pe.GitPorts(agent=AGENT), on_event=_during("slice_complete:s", delete))
    assert (out.status, out.step) == ("halted", "slice_complete:s"), out
    assert out.reason == "branch petri/feature.slices/s is missing; nothing merged"
    assert git(repo, "rev-parse", "petri/feature") == run_tip[0]  # the run branch unchanged


# -- ports.gitcheck.check_run: the preflight's refusals ------------------------------------

def _refused(run: Path, ports: pe.GitPorts, message: str) -> None:
    """drive() and fire() refuse with exactly ``message`` and leave every file as it was."""
    before = _files(run.parent)
    for call in (lambda: pe.drive(run, ports), lambda: pe.fire(run, "worktree_create", ports)):
        with pytest.raises(pe.GitRepoError) as e:
            call()
        assert str(e.value) == message
    assert _files(run.parent) == before


def test_the_preflight_refuses_an_in_memory_run_in_full() -> None:
    with pytest.raises(pe.GitRepoError) as e:
        pe.drive(pe.Run("r", (pe.Slice("a"),)), pe.GitPorts(agent=AGENT))
    assert str(e.value) == ("the git ports need a run file (an in-memory run has no directory "
                            "for its worktrees); drive a run.json")


def test_a_run_id_that_cannot_name_a_branch_is_refused_in_full(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    run = write_git_run(repo / "run.json", ONE_SLICE, run_id="my run")
    _refused(run, pe.GitPorts(agent=AGENT), (
        f"{run}: run_id: 'my run' cannot name the branch petri/<run_id>: git branch names "
        "cannot hold spaces, '/', '~', '^', ':', '?', '*', '[', '\\'; use letters, digits, "
        "'-', '_', '.'"))


def test_a_slice_id_that_cannot_name_a_branch_is_refused_in_full(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    run = write_git_run(repo / "run.json", [{"id": "ok"}, {"id": "a..b"}])
    _refused(run, pe.GitPorts(agent=AGENT), (
        f"{run}: slices[1].id: 'a..b' cannot name a git branch: it contains '..' or '@{{' "
        "(or is '@'); rename the slice"))


def test_an_unknown_base_is_refused_in_full(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "branch", "trunk")
    run = write_git_run(repo / "run.json", ONE_SLICE)
    _refused(run, pe.GitPorts(agent=AGENT, base="develop"), (
        f"base branch 'develop' does not exist in {repo}; known branches: main, trunk; "
        "pass --base BRANCH"))
    assert _refs(repo) == [f"refs/heads/main {git(repo, 'rev-parse', 'main')}",
                           f"refs/heads/trunk {git(repo, 'rev-parse', 'trunk')}"]


def test_a_stale_run_branch_is_refused_by_the_preflight_in_full(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "update-ref", "refs/heads/petri/feature", _orphan(repo))
    run = write_git_run(repo / "run.json", ONE_SLICE)
    refs = _refs(repo)
    _refused(run, pe.GitPorts(agent=AGENT), (
        "branch petri/feature already exists with commits that are not on 'main' (an earlier "
        "run with this run_id?); delete it (petri-exec clean OLD_RUN --branches, or git "
        "branch -D petri/feature) or give this run another run_id"))
    assert _refs(repo) == refs


def test_a_recorded_repository_that_is_gone_is_refused_in_full(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    run = write_git_run(tmp_path / "runs" / "run.json", ONE_SLICE)
    assert pe.fire(run, "worktree_create", pe.GitPorts(repo, agent=AGENT)).status == "fired"
    shutil.move(repo, tmp_path / "moved")
    _refused(run, pe.GitPorts(agent=AGENT),
             f"{run}: the run's repository {repo} does not exist any more")


def test_a_bare_repository_is_refused_in_full(tmp_path: Path) -> None:
    make_repo(tmp_path / "src")
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(tmp_path / "src"), str(bare))
    run = write_git_run(tmp_path / "runs" / "run.json", ONE_SLICE)
    refs = _refs(bare)
    _refused(run, pe.GitPorts(bare, agent=AGENT), (
        f"{bare} is a bare repository; the git ports need a checkout: pass --repo PATH of a "
        "clone with a working tree"))
    assert _refs(bare) == refs


@pytest.mark.parametrize("base", ["a..b", "feature/x y"])
def test_a_base_that_is_no_branch_name_is_refused_in_full(tmp_path: Path, base: str) -> None:
    repo = make_repo(tmp_path / "repo")
    run = write_git_run(repo / "run.json", ONE_SLICE)
    _refused(run, pe.GitPorts(agent=AGENT, base=base),
             f"--base {base!r} is not a branch name; pass --base BRANCH")


# -- ports.gitclean.clean_run: no repository to clean in -----------------------------------

def test_cleaning_a_run_outside_any_repository_is_refused_in_full(tmp_path: Path) -> None:
    run = write_git_run(tmp_path / "plain" / "run.json", ONE_SLICE)
    (tmp_path / "plain" / "run.work" / "git").mkdir(parents=True)
    before = sorted(str(p) for p in (tmp_path / "plain").rglob("*"))
    with pytest.raises(pe.GitRepoError) as e:
        pe.GitPorts(agent=AGENT).clean(run, pe.load_run(run))
    assert str(e.value) == (f"{run.parent} is not in a git repository and run 'feature' "
                            "recorded none; pass --repo PATH")
    assert sorted(str(p) for p in (tmp_path / "plain").rglob("*")) == before


# -- ports.gitcmd: identities, a detached HEAD, no git at all -------------------------------

def test_a_malformed_author_is_refused_in_full() -> None:
    for call in (lambda: Identity.parse("nobody"),
                 lambda: pe.GitPorts(agent="x", author="nobody")):
        with pytest.raises(pe.UsageError) as e:
            call()
        assert str(e.value) == ("author 'nobody' is not 'Name <email>'; pass e.g. "
                                "'petri-exec <petri-exec@localhost>'")


def test_a_detached_head_without_a_base_is_refused_in_full(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "checkout", "-q", "--detach")
    run = write_git_run(repo / "run.json", ONE_SLICE)
    _refused(run, pe.GitPorts(agent=AGENT), (
        f"{repo}: HEAD is detached, so there is no current branch to start from; pass "
        "--base BRANCH"))


def test_no_git_on_path_is_reported_in_full(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "repo")
    run = write_git_run(repo / "run.json", ONE_SLICE)
    r = pe.load_run(run)
    empty = tmp_path / "no-tools"
    empty.mkdir()
    with pytest.raises(pe.GitCommandError) as e:
        Git(repo, {"PATH": str(empty)}).run("status")
    assert str(e.value) == ("cannot run git (No such file or directory); install git and put "
                            "it on PATH")
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(pe.GitCommandError) as e:
        pe.GitPorts(agent=AGENT).preflight(run, r)
    assert str(e.value) == ("cannot run git (No such file or directory); install git and put "
                            "it on PATH")


# -- ports.gitland.copy_source: the run branch gone before source_copy ----------------------

def test_source_copy_with_the_run_branch_deleted_halts_naming_worktree_create(
        tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    run = write_git_run(repo / "run.json", ONE_SLICE)

    def delete() -> None:
        git(repo, "update-ref", "-d", "refs/heads/petri/feature")

    out = pe.drive(run, pe.GitPorts(agent=AGENT, source_policy="working-tree"),
                   on_event=_during("source_copy", delete))
    assert (out.status, out.step) == ("halted", "source_copy"), out
    assert out.reason == ("run branch petri/feature is missing; worktree_create makes it "
                          "(was it deleted?)")
    assert git(repo, "branch", "--list", "petri/*") == ""
    assert not (repo / "run.work" / "snapshot.index").exists()


# -- ports.gitland.land: promotion's refusals ----------------------------------------------

def test_promotion_refuses_a_run_branch_unrelated_to_the_base(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"app.txt": "v1\n"})
    run = write_git_run(repo / "run.json", ONE_SLICE)
    ports = pe.GitPorts(agent=AGENT)
    assert pe.drive(run, ports, max_firings=12).status == "paused"  # up to promotion
    assert pe.load_run(run).status != "promotion_prepared"
    orphan = _orphan(repo)
    git(repo, "update-ref", "refs/heads/petri/feature", orphan)
    main = git(repo, "rev-parse", "main")
    out = ports.land(_ctx(run, "promotion", "land"))
    assert out.reason == "petri/feature and 'main' share no history"
    assert git(repo, "rev-parse", "main", "petri/feature").split() == [main, orphan]


def test_ff_promotion_refuses_a_moved_base_in_full(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"app.txt": "v1\n"})
    run = write_git_run(repo / "run.json", ONE_SLICE)
    base0 = git(repo, "rev-parse", "main")
    ports = pe.GitPorts(agent=AGENT)
    assert pe.drive(run, ports, max_firings=12).status == "paused"  # up to promotion
    moved = _commit_on_main(repo, "other.txt", "meanwhile\n")
    tip = git(repo, "rev-parse", "petri/feature")
    out = pe.drive(run, ports)
    assert (out.step, out.reason) == ("promotion", "promotion_failed")
    assert out.detail == (
        f"'main' moved to {moved[:12]} since the run branched from {base0[:12]}, so "
        "petri/feature no longer fast-forwards onto it; land with --land merge (a merge "
        "commit) or rebase the run branch by hand")
    assert git(repo, "rev-parse", "main", "petri/feature").split() == [moved, tip]


def test_merge_promotion_refuses_a_conflict_in_full(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"app.txt": "v1\n"})
    run = write_git_run(repo / "run.json", [
        {"id": "s", "meta": task("- write app.txt: v2 from the run\\n")}])
    ports = pe.GitPorts(agent=AGENT, land="merge")
    assert pe.drive(run, ports, max_firings=12).status == "paused"  # up to promotion
    moved = _commit_on_main(repo, "app.txt", "v2 from someone else\n")
    tip = git(repo, "rev-parse", "petri/feature")
    out = pe.drive(run, ports)
    assert (out.step, out.reason) == ("promotion", "promotion_failed")
    assert out.detail == "petri/feature does not merge cleanly into 'main': conflicts in app.txt"
    assert git(repo, "rev-parse", "main", "petri/feature").split() == [moved, tip]
    assert git(repo, "for-each-ref", "refs/petri") == ""  # no landing prepared


# -- ports.gitland.host_land: host_promotion's refusals ------------------------------------

def test_ff_host_promotion_refuses_a_moved_base_in_full(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"app.txt": "v1\n"})
    run = write_git_run(repo / "run.json", [
        {"id": "s", "meta": task("- write app.txt: v2 from the run\\n")}])
    ports = pe.GitPorts(agent=AGENT)
    assert pe.drive(run, ports).status == "completed"
    moved = _commit_on_main(repo, "app.txt", "v2 from someone else\n")
    tip = git(repo, "rev-parse", "petri/feature")
    fired = pe.fire(run, "host_promotion", ports)
    assert (fired.status, fired.step) == ("halted", "host_promotion")
    assert fired.reason == (
        f"'main' moved to {moved[:12]} since promotion and no longer fast-forwards to "
        f"petri/feature ({tip[:12]}); fire host_promotion with --land merge, or rebase the "
        "run branch by hand")
    assert git(repo, "rev-parse", "main") == moved
    assert (repo / "app.txt").read_text() == "v2 from someone else\n"
    assert pe.load_run(run).status == "promotion_prepared"


def test_a_failed_push_after_landing_is_reported_in_full(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "branch", "release")
    remote = str(tmp_path / "no-such-remote")
    run = write_git_run(repo / "run.json", [{"id": "s", "meta": task("- write r.txt: r\\n")}])
    ports = pe.GitPorts(agent=AGENT, base="release", remote=remote)
    assert pe.drive(run, ports).status == "completed"
    tip = git(repo, "rev-parse", "petri/feature")
    with pytest.raises(pe.GitCommandError) as e:  # what git says to this push
        Git(repo, ports.git_env()).run("push", "--quiet", remote,
                                       "refs/heads/release:refs/heads/release")
    fired = pe.fire(run, "host_promotion", ports)
    assert (fired.status, fired.step) == ("halted", "host_promotion")
    assert fired.reason == (f"'release' moved to {tip[:12]} here, but pushing it to "
                            f"{remote!r} failed ({e.value}); fire host_promotion again to "
                            "retry the push")
    assert git(repo, "rev-parse", "release") == tip  # landed here, as the message says
    assert not Path(remote).exists()


# -- ports.protocol.normalise_result: facts a port cannot return ---------------------------

def test_facts_with_non_string_keys_are_refused_in_full(make_run: Make) -> None:
    assert normalise_result({1: "x"}, "runner").reason == (
        "port 'runner' returned facts with non-string keys; use string keys")
    run = make_run([{"id": "a", "depends_on": []}], template="minimal")
    out = pe.drive(run, {"runner": lambda ctx: {1: "x"}})
    assert out.status == "halted", out
    assert out.reason == "port 'runner' returned facts with non-string keys; use string keys"
    assert pe.load_run(run).slices[0].status == "pending"


def test_facts_that_cannot_be_saved_are_refused_in_full(make_run: Make) -> None:
    expected = ("port 'runner' returned facts that cannot be saved: facts.x: nan is not a "
                "finite number (JSON has no NaN/Infinity); return JSON values only (string "
                "keys, finite numbers, valid Unicode, at most 64 levels deep)")
    assert normalise_result({"x": float("nan")}, "runner").reason == expected
    run = make_run([{"id": "a", "depends_on": []}], template="minimal")
    out = pe.drive(run, {"runner": lambda ctx: {"x": float("nan")}})
    assert out.status == "halted", out
    assert out.reason == expected
    assert pe.load_run(run).slices[0].status == "pending"


# -- ports.shell.ShellPorts.agent_runner: a slice without a command ------------------------

def test_a_slice_without_meta_run_is_refused_in_full(make_run: Make) -> None:
    run = make_run([{"id": "a", "depends_on": []}], template="minimal")
    out = pe.drive(run, ShellPorts())
    assert out.status == "halted", out
    assert out.reason == ("slice 'a' has no meta.run command; add \"meta\": {\"run\": "
                          "\"<shell command>\"} to the slice")
    assert not list(run.parent.glob("run.work/logs/*"))


# -- ports.worktree.ensure_worktree: a worktree of another branch in the way ----------------

def test_a_worktree_of_another_branch_is_not_taken_over(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    path = tmp_path / "trees" / "run"
    git(repo, "worktree", "add", "-q", "-b", "other", str(path))
    git(repo, "worktree", "lock", str(path))  # locked: a half-made one is checked in full
    (path / "mine.txt").write_text("kept\n")
    with pytest.raises(pe.GitRepoError) as e:
        ensure_worktree(Git(repo, dict(os.environ)), path, "petri/feature")
    assert str(e.value) == (f"{path} is a worktree of branch refs/heads/other, not "
                            "refs/heads/petri/feature; move it away or run petri-exec clean "
                            "on the run that made it")
    assert (path / "mine.txt").read_text() == "kept\n"
    assert git(path, "symbolic-ref", "HEAD") == "refs/heads/other"
    assert git(repo, "branch", "--list", "petri/*") == ""

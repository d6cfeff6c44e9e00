"""Landing a git run (petri_exec/ports/gitland.py): promotion checks, host_promotion moves
the base, and cleaning up (petri_exec/ports/gitclean.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

import petri_exec as pe

from .gitutil import (
    AGENT,
    git,
    isolated_git,  # noqa: F401  (autouse fixture)
    make_repo,
    task,
    write_git_run,
)


def _drive(tmp_path: Path, slices: list[dict[str, object]] | None = None,
           **options: str) -> tuple[Path, Path, pe.GitPorts, pe.DriveOutcome]:
    repo = make_repo(tmp_path / "repo", {"app.txt": "v1\n"})
    run = write_git_run(repo / "run.json", slices or [
        {"id": "s", "meta": task("- write feature.txt: new\\n")}])
    ports = pe.GitPorts(agent=AGENT, **options)
    return repo, run, ports, pe.drive(run, ports)


def _commit_on_main(repo: Path, name: str, text: str) -> str:
    (repo / name).write_text(text)
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", f"edit {name}")
    return git(repo, "rev-parse", "main")


def test_nothing_to_land_halts_with_promotion_no_changes(tmp_path: Path) -> None:
    repo, _, _, out = _drive(tmp_path, [{"id": "noop"}], test="true")
    assert (out.status, out.step, out.reason) == ("halted", "promotion", "promotion_no_changes")
    # the empty slice still has its one commit (the record of its run)
    assert git(repo, "rev-list", "--count", "main..petri/feature") == "1"


def test_ff_refuses_a_moved_base_and_merge_lands_it(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"app.txt": "v1\n"})
    run = write_git_run(repo / "run.json", [
        {"id": "s", "meta": task("- write feature.txt: new\\n")}])
    ports = pe.GitPorts(agent=AGENT)
    assert pe.drive(run, ports, max_firings=12).status == "paused"  # up to promotion
    moved = _commit_on_main(repo, "other.txt", "meanwhile\n")
    out = pe.drive(run, ports)
    assert (out.step, out.reason) == ("promotion", "promotion_failed")
    assert out.detail is not None and out.detail.startswith(
        f"'main' moved to {moved[:12]} since the run branched from")
    assert out.detail.endswith("land with --land merge (a merge commit) or rebase the run "
                               "branch by hand")
    assert git(repo, "rev-parse", "main") == moved
    merging = pe.GitPorts(agent=AGENT, land="merge")
    out = pe.drive(run, merging)
    assert out.status == "completed", out
    land = out.run.facts["land_commit"]
    assert git(repo, "rev-parse", f"{land}^1", f"{land}^2").split() == [
        moved, git(repo, "rev-parse", "petri/feature")]
    assert git(repo, "rev-parse", "main") == moved  # promotion never moves the base
    assert pe.fire(run, "host_promotion", merging).status == "fired"
    assert git(repo, "rev-parse", "main") == land
    assert (repo / "feature.txt").read_text() == "new\n"
    assert (repo / "other.txt").read_text() == "meanwhile\n"


def test_host_promotion_refuses_a_base_that_moved_away(tmp_path: Path) -> None:
    repo, run, ports, out = _drive(tmp_path, [
        {"id": "s", "meta": task("- write app.txt: v2 from the run\\n")}])
    assert out.status == "completed", out
    moved = _commit_on_main(repo, "app.txt", "v2 from someone else\n")
    fired = pe.fire(run, "host_promotion", ports)
    assert (fired.status, fired.step) == ("halted", "host_promotion")
    assert fired.reason is not None and "no longer fast-forwards" in fired.reason
    merged = pe.fire(run, "host_promotion", pe.GitPorts(agent=AGENT, land="merge"))
    assert merged.reason == (f"'main' moved to {moved[:12]} since promotion and petri/feature "
                             "no longer merges cleanly into it: conflicts in app.txt")
    assert git(repo, "rev-parse", "main") == moved
    assert pe.load_run(run).status == "promotion_prepared"


def test_host_promotion_keeps_local_changes_of_the_checkout(tmp_path: Path) -> None:
    repo, run, ports, _ = _drive(tmp_path, [
        {"id": "s", "meta": task("- write app.txt: v2\\n", "- write feature.txt: new\\n")}])
    base = git(repo, "rev-parse", "main")
    (repo / "app.txt").write_text("my local edit\n")
    fired = pe.fire(run, "host_promotion", ports)
    assert fired.status == "halted"
    assert fired.reason is not None and fired.reason.startswith(
        f"the checkout {repo} has 'main' checked out with local changes that landing would "
        "overwrite")
    assert fired.reason.endswith("; commit or stash them and fire host_promotion again")
    assert (repo / "app.txt").read_text() == "my local edit\n"
    assert git(repo, "rev-parse", "main") == base
    (repo / "app.txt").write_text("v1\n")  # the local edit is gone: it lands
    (repo / "scratch.txt").write_text("untracked, kept\n")
    assert pe.fire(run, "host_promotion", ports).status == "fired"
    assert (repo / "app.txt").read_text() == "v2\n"
    assert (repo / "scratch.txt").read_text() == "untracked, kept\n"


def test_host_promotion_on_a_base_not_checked_out_and_a_push(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "branch", "release")
    git(tmp_path, "init", "-q", "--bare", str(tmp_path / "remote.git"))
    git(repo, "remote", "add", "origin", str(tmp_path / "remote.git"))
    run = write_git_run(repo / "run.json", [{"id": "s", "meta": task("- write r.txt: r\\n")}])
    ports = pe.GitPorts(agent=AGENT, base="release", remote="origin")
    assert pe.drive(run, ports).status == "completed"
    fired = pe.fire(run, "host_promotion", ports)
    assert fired.status == "fired", fired
    tip = git(repo, "rev-parse", "petri/feature")
    assert git(repo, "rev-parse", "release") == tip
    assert git(tmp_path / "remote.git", "rev-parse", "release") == tip
    assert fired.run.facts["pushed"] == "origin"
    assert not (repo / "r.txt").exists()  # main is checked out, not release


def test_host_promotion_is_idempotent(tmp_path: Path) -> None:
    repo, run, ports, _ = _drive(tmp_path)
    r = pe.load_run(run)
    ctx = pe.StepContext("feature", "host_promotion", "host_promotion", None, None, r.facts,
                         1, "feature/host_promotion", repo, "host_land", r.status, run)
    first = ports.host_land(ctx)
    again = ports.host_land(ctx)  # a resumed attempt: the base already holds the run
    assert first.facts["already_landed"] is False and again.facts["already_landed"] is True
    assert first.facts["landed"] == again.facts["landed"] == git(repo, "rev-parse", "main")


def test_clean_removes_worktrees_and_branches_when_asked(tmp_path: Path) -> None:
    repo, run, ports, out = _drive(tmp_path, [
        {"id": "ok", "meta": task("- write ok.txt: ok\\n")},
        {"id": "bad", "meta": task("- fail: no")}])
    assert out.step == "agent_result:bad"
    with pytest.raises(pe.GitRepoError, match="is at 'reports_initialized', not finished"):
        ports.clean(run, pe.load_run(run), branches=True)
    done = ports.clean(run, pe.load_run(run))
    assert sorted(Path(p).name for p in done.worktrees) == ["bad", "run"]
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert not (repo / "run.work" / "git").exists()
    assert (repo / "run.work" / "logs" / "bad.agent.1.log").exists()  # logs stay
    assert git(repo, "branch", "--list", "petri/*").split() != []
    pe.abandon(run, "giving up")
    done = ports.clean(run, pe.load_run(run), branches=True)
    assert sorted(done.branches) == ["petri/feature", "petri/feature.slices/bad",
                                     "petri/feature.slices/ok"]
    assert git(repo, "branch", "--list", "petri/*") == ""

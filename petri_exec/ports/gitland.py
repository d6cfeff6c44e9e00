"""The run branch's two ends: the source it starts from and the landing on the base.

- :func:`copy_source` (``source_copy``): policy ``head`` records the base commit; policy
  ``working-tree`` carries the host checkout's uncommitted and untracked (not ignored)
  changes onto the run branch as one snapshot commit, through a temporary index (the host's
  index and files are never written).
- :func:`land` (``promotion``): checks that the run branch lands cleanly on the base's
  current tip and prepares the commit to land; the base is not touched.
- :func:`host_land` (``host_promotion``): moves the base branch (fast-forward, or a merge
  commit), updating a checkout that has it checked out the way ``git checkout`` would
  (refusing to overwrite local changes); pushes only when a remote is configured.

Each is idempotent: a snapshot carries the step's idempotency key in a trailer and is
found again; a landing already on the base is recognised.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from ..errors import GitCommandError
from ..run.jsonio import TEMP_MARK
from .gitcmd import KEY_TRAILER, Git, commit_message
from .protocol import StepContext, StepResult
from .worktree import RunRepo, ensure_worktree, worktrees

__all__ = ["copy_source", "host_land", "land", "sync_run_worktree"]

_MAX_FILES = 200


def sync_run_worktree(rr: RunRepo) -> None:
    """Bring the run worktree's index and files to the run branch's tip (it is
    petri-exec's own checkout; untracked and ignored files stay)."""
    lay = rr.layout
    ensure_worktree(rr.git, lay.run_worktree, lay.run_branch)
    rr.git.at(lay.run_worktree).run("reset", "--quiet", "--hard")


def _excludes(rr: RunRepo) -> list[str]:
    """Pathspecs that keep petri-exec's own files out of a working-tree snapshot: this run's
    file and its siblings, the files of other runs beside it (each known by its journal),
    work directories, temp files."""
    run_dir = rr.layout.run_dir
    try:
        rel = run_dir.resolve().relative_to(rr.repo.resolve())
    except ValueError:
        return []  # the run lives outside the checkout
    stems = {rr.layout.run_path.stem} | {
        p.name.split(".events.", 1)[0] for p in run_dir.glob("*.events*.jsonl")}
    out = [f":(exclude,literal){(rel / rr.layout.run_path.name).as_posix()}"]
    for p in run_dir.iterdir():
        stem, dot, rest = p.name.partition(".")
        ours = dot and stem in stems and (rest in ("json", "pnml", "work")
                                          or rest.startswith("events"))
        if ours or p.name.endswith(".work") or TEMP_MARK in p.name:
            out.append(f":(exclude,literal){(rel / p.name).as_posix()}")
    return out


def copy_source(rr: RunRepo, ctx: StepContext, policy: str) -> StepResult:
    """``source_copy``: record the source (``head``) or carry the host's changes
    (``working-tree``) onto the run branch as one commit."""
    lay, git = rr.layout, rr.git
    base_commit = ctx.run_facts.get("base_commit")
    run_tip = git.tips(lay.run_ref)[lay.run_ref]
    if run_tip is None:
        return StepResult.fail(f"run branch {lay.run_branch} is missing; worktree_create "
                               "makes it (was it deleted?)")
    if policy == "head":
        return StepResult.ok(source_policy="head", source_commit=run_tip, snapshot_commit=None)
    done = git.keyed([run_tip, f"^{base_commit}"] if isinstance(base_commit, str)
                     else [run_tip, "-1"], ctx.idempotency_key)
    if done is not None:
        carried = git.changed(f"{done}^", done)
        return _snapshot_facts(done, carried)
    head = git.out("rev-parse", "--verify", "HEAD^{commit}")
    index = lay.work / "snapshot.index"
    lay.make_work()
    with contextlib.suppress(FileNotFoundError):
        index.unlink()
    env = {"GIT_INDEX_FILE": str(index)}
    try:
        git.run("read-tree", head, env=env)
        git.run("add", "--all", "--", ".", *_excludes(rr), env=env)
        tree = git.out("write-tree", env=env)
    finally:
        with contextlib.suppress(FileNotFoundError):
            index.unlink()
    head_tree = git.out("rev-parse", f"{head}^{{tree}}")
    if tree == head_tree:
        return _snapshot_facts(None, [], run_tip)
    if run_tip != head:  # carry only head -> working tree (a cherry-pick of the snapshot)
        tree = _cherry_pick(git, head_tree, tree, run_tip, rr, ctx)
        if tree.startswith("conflict:"):
            return StepResult.fail(
                f"the host checkout's changes do not apply to {lay.run_branch}: conflicts in "
                f"{tree[len('conflict:'):]}; commit them to {rr.base!r} first, or use "
                "--source-policy head")
    new = git.commit_tree(tree, [run_tip], commit_message(
        f"petri-exec: working-tree snapshot of {rr.repo.name}",
        f"The uncommitted and untracked changes of {rr.repo} when run {ctx.run_id} started.",
        {"Petri-Run": ctx.run_id, KEY_TRAILER: ctx.idempotency_key}))
    git.update_ref(lay.run_ref, new, run_tip, "petri-exec: working-tree snapshot")
    sync_run_worktree(rr)
    return _snapshot_facts(new, git.changed(run_tip, new))


def _cherry_pick(git: Git, head_tree: str, tree: str, run_tip: str, rr: RunRepo,
                 ctx: StepContext) -> str:
    """The run tip's tree plus the change ``head_tree -> tree`` (merge base: head_tree)."""
    root = git.commit_tree(head_tree, [], "petri-exec: snapshot base\n")
    ours = git.commit_tree(git.out("rev-parse", f"{run_tip}^{{tree}}"), [root], "ours\n")
    theirs = git.commit_tree(tree, [root], "theirs\n")
    merged, conflicts = git.merge_tree(ours, theirs)
    return f"conflict:{', '.join(conflicts[:20])}" if conflicts else merged


def _snapshot_facts(commit: str | None, carried: list[str],
                    source: str | None = None) -> StepResult:
    return StepResult.ok(source_policy="working-tree", source_commit=commit or source,
                         snapshot_commit=commit, carried=carried[:_MAX_FILES],
                         carried_count=len(carried))


def _tips(rr: RunRepo) -> tuple[str, str] | StepResult:
    """The base branch's and the run branch's tips, or the failure naming the one missing."""
    tips = rr.git.tips(rr.base_ref, rr.layout.run_ref)
    base_tip, run_tip = tips[rr.base_ref], tips[rr.layout.run_ref]
    if base_tip is None or run_tip is None:
        gone = rr.base if base_tip is None else rr.layout.run_branch
        return StepResult.fail(f"branch {gone!r} does not exist in {rr.repo}")
    return base_tip, run_tip


def land(rr: RunRepo, ctx: StepContext, mode: str) -> StepResult:
    """``promotion``: check that the run lands cleanly on the base's tip; prepare the
    commit to land (the run tip for ``ff``, a merge commit for ``merge``)."""
    lay, git = rr.layout, rr.git
    tips = _tips(rr)
    if isinstance(tips, StepResult):
        return tips
    base_tip, run_tip = tips
    mb = git.merge_base(base_tip, run_tip)
    if mb is None:
        return StepResult.fail(f"{lay.run_branch} and {rr.base!r} share no history")
    run_tree, mb_tree = git.out("rev-parse", f"{run_tip}^{{tree}}", f"{mb}^{{tree}}").split()
    if run_tree == mb_tree:
        return StepResult.ok(changes=False, land_mode=mode, run_commit=run_tip)
    if mode == "ff":
        if mb != base_tip:
            return StepResult.fail(
                f"{rr.base!r} moved to {base_tip[:12]} since the run branched from "
                f"{mb[:12]}, so {lay.run_branch} no longer fast-forwards onto it; land with "
                "--land merge (a merge commit) or rebase the run branch by hand")
        commit = run_tip
    else:
        tree, conflicts = git.merge_tree(base_tip, run_tip)
        if conflicts:
            return StepResult.fail(f"{lay.run_branch} does not merge cleanly into "
                                   f"{rr.base!r}: conflicts in {', '.join(conflicts[:20])}",
                                   conflicts=conflicts[:_MAX_FILES])
        commit = git.commit_tree(tree, [base_tip, run_tip], _merge_message(rr, ctx))
        git.update_ref(lay.land_ref, commit, None, "petri-exec: prepared landing")
    sync_run_worktree(rr)
    files, ins, dels = git.numstat(base_tip, commit)
    return StepResult.ok(land_commit=commit, land_mode=mode, land_base=base_tip,
                         run_commit=run_tip,
                         diffstat={"files": files, "insertions": ins, "deletions": dels})


def _merge_message(rr: RunRepo, ctx: StepContext) -> str:
    return commit_message(f"Merge run {ctx.run_id} ({rr.layout.run_branch}) into {rr.base}",
                          f"Landed by petri-exec ({ctx.transition}).",
                          {"Petri-Run": ctx.run_id, KEY_TRAILER: ctx.idempotency_key})


def host_land(rr: RunRepo, ctx: StepContext, mode: str, remote: str | None) -> StepResult:
    """``host_promotion``: move the base branch to the promoted commit (refused when the
    base moved so that it no longer lands cleanly); push when ``remote`` is set."""
    lay, git = rr.layout, rr.git
    tips = _tips(rr)
    if isinstance(tips, StepResult):
        return tips
    base_tip, run_tip = tips
    if git.is_ancestor(run_tip, base_tip):  # landed already (an earlier attempt)
        return _landed(rr, base_tip, None, remote, already=True)
    if mode == "ff":
        if not git.is_ancestor(base_tip, run_tip):
            return StepResult.fail(
                f"{rr.base!r} moved to {base_tip[:12]} since promotion and no longer "
                f"fast-forwards to {lay.run_branch} ({run_tip[:12]}); fire host_promotion "
                "with --land merge, or rebase the run branch by hand")
        new = run_tip
    else:
        prepared = ctx.run_facts.get("land_commit")
        if (isinstance(prepared, str) and ctx.run_facts.get("land_base") == base_tip
                and ctx.run_facts.get("land_mode") == "merge"):
            new = prepared
        else:
            tree, conflicts = git.merge_tree(base_tip, run_tip)
            if conflicts:
                return StepResult.fail(
                    f"{rr.base!r} moved to {base_tip[:12]} since promotion and "
                    f"{lay.run_branch} no longer merges cleanly into it: conflicts in "
                    f"{', '.join(conflicts[:20])}", conflicts=conflicts[:_MAX_FILES])
            new = git.commit_tree(tree, [base_tip, run_tip], _merge_message(rr, ctx))
    for wt in worktrees(git).values():  # a checkout of the base follows, like git checkout
        if wt.branch == rr.base_ref and Path(wt.path).is_dir():
            wgit = git.at(Path(wt.path))
            wgit.run("update-index", "-q", "--refresh", ok=(0, 1))
            try:
                wgit.run("read-tree", "-m", "-u", base_tip, new)
            except GitCommandError as e:
                return StepResult.fail(
                    f"the checkout {wt.path} has {rr.base!r} checked out with local changes "
                    f"that landing would overwrite ({e}); commit or stash them and fire "
                    "host_promotion again")
    git.update_ref(rr.base_ref, new, base_tip, f"petri-exec: land run {ctx.run_id}")
    return _landed(rr, new, base_tip, remote)


def _landed(rr: RunRepo, commit: str, previous: str | None, remote: str | None, *,
            already: bool = False) -> StepResult:
    pushed = None
    if remote is not None:
        try:
            rr.git.run("push", "--quiet", remote, f"{rr.base_ref}:{rr.base_ref}")
        except GitCommandError as e:
            return StepResult.fail(f"{rr.base!r} moved to {commit[:12]} here, but pushing it "
                                   f"to {remote!r} failed ({e}); fire host_promotion again "
                                   "to retry the push")
        pushed = remote
    return StepResult.ok(landed=commit, base=rr.base, previous_base_commit=previous,
                         already_landed=already, pushed=pushed)

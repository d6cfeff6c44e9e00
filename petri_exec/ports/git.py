"""Built-in git ports (``--ports git``): an agent run over a real git repository.

The run gets a branch ``petri/<run_id>`` from the base branch's tip, checked out in a
worktree under ``<run stem>.work/git/run``; each slice works in its own worktree on
``petri/<run_id>.slices/<slice_id>``, branched from the run branch once its dependencies
were merged there. The agent command edits the slice's worktree; its changes become one
commit on the slice branch; ``slice_complete`` merges that into the run branch as one
commit, one merge at a time; ``promotion`` checks that the run lands on the base;
``host_promotion`` moves the base. Every effect is idempotent under the step's
idempotency key (a commit trailer ``Petri-Idempotency-Key``), so a run killed at any
moment resumes without committing or merging twice. docs/git.md tells it step by step.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import GitRepoError, UsageError
from ..run.model import Run
from .command import run_command, tail
from .gitcheck import Preflight, check_run, how_it_ended
from .gitclean import Cleaned, clean_run, reset_run_slices
from .gitcmd import DEFAULT_AUTHOR, KEY_TRAILER, ZERO, Git, Identity, commit_message, scrubbed_env
from .gitland import copy_source, host_land, land, sync_run_worktree
from .prompt import prompt_text, write_prompt
from .protocol import StepContext, StepResult, check_seconds
from .worktree import Layout, RunRepo, ensure_worktree, merge_lock, remove_worktree

__all__ = ["GitPorts"]

#: Most changed paths a fact lists (``files_count`` has the full number).
_MAX_FILES = 200


class GitPorts:
    """The git ports of the executor template (``petri-exec drive RUN --ports git``).

    Args:
        repo: The repository (default: the one holding the run file).
        base: The branch the run starts from and lands on (default: the repository's
            current branch).
        agent: The agent command line (``/bin/sh -c``), run in each slice's worktree with
            the prompt file's path in ``PETRI_PROMPT_FILE``.
        test: The test command (a slice's ``meta.verify`` overrides it); None: verdict
            ``untested``.
        setup: A command run in the run worktree by ``populate``.
        source_policy: ``head`` (the base's committed state) or ``working-tree`` (also the
            host checkout's uncommitted and untracked changes, as one snapshot commit).
        land: ``ff`` (``host_promotion`` fast-forwards the base) or ``merge`` (a merge
            commit on the base).
        author: ``"Name <email>"`` of every commit the ports make.
        remote: Push the base branch there after ``host_promotion`` (None: never push).
        timeout_s: Kill a command (agent, test, setup) after this many seconds.

    Raises:
        UsageError: A bad argument (an empty agent, an unknown policy, a malformed author).
    """

    def __init__(self, repo: str | os.PathLike[str] | None = None, *, base: str | None = None,
                 agent: str, test: str | None = None, setup: str | None = None,
                 source_policy: str = "head", land: str = "ff", author: str = DEFAULT_AUTHOR,
                 remote: str | None = None, timeout_s: float | None = None) -> None:
        if not isinstance(agent, str) or not agent.strip():
            raise UsageError("the git ports need an agent command (--agent CMD): a shell "
                             "command line that edits files as the prompt in "
                             "$PETRI_PROMPT_FILE says")
        for name, value in (("test", test), ("setup", setup), ("base", base),
                            ("remote", remote)):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise UsageError(f"{name}={value!r} must be a non-empty string or None")
        if source_policy not in ("head", "working-tree"):
            raise UsageError(f"source_policy={source_policy!r}: use 'head' or 'working-tree'")
        if land not in ("ff", "merge"):
            raise UsageError(f"land={land!r}: use 'ff' (fast-forward) or 'merge'")
        if timeout_s is not None:
            check_seconds("timeout_s", timeout_s, zero=False)
        self.repo = Path(repo).absolute() if repo is not None else None
        self.base, self.agent, self.test, self.setup = base, agent, test, setup
        self.source_policy, self.land_mode = source_policy, land
        self.identity = Identity.parse(author)
        self.remote, self.timeout_s = remote, timeout_s

    def __repr__(self) -> str:
        return (f"GitPorts(repo={self.repo!r}, base={self.base!r}, agent={self.agent!r}, "
                f"source_policy={self.source_policy!r}, land={self.land_mode!r})")

    # -- resolution ------------------------------------------------------------------------

    def git_env(self) -> dict[str, str]:
        """The environment of every git command (scrubbed; author and committer set)."""
        return scrubbed_env(self.identity.env())

    def resolve(self, run_path: Path | None, run_id: str,
                facts: Mapping[str, Any]) -> RunRepo:
        """The repository, base and layout of a run: recorded facts first (what
        ``worktree_create`` chose), then this object's settings, then the defaults.

        Raises:
            GitRepoError: No run file, or no repository or base can be found.
        """
        if run_path is None:
            raise GitRepoError("the git ports need a run file (an in-memory run has no "
                               "directory for its worktrees); drive a run.json")
        run_path = run_path.absolute()
        env = self.git_env()
        repo = facts.get("repo")
        top = Path(repo) if isinstance(repo, str) else self.repo
        if top is None:
            top = Path(Git(run_path.parent, env).out("rev-parse", "--show-toplevel"))
        git = Git(top, env)
        base = facts.get("base")
        if not isinstance(base, str):
            base = self.base or git.current_branch()
        return RunRepo(Layout(run_path, run_id), git, top, base)

    def _repo(self, ctx: StepContext) -> RunRepo:
        return self.resolve(ctx.run_path, ctx.run_id, ctx.run_facts)

    def command_env(self, ctx: StepContext, rr: RunRepo, cwd: Path, branch: str,
                    log: Path, **extra: str) -> dict[str, str]:
        """The environment of a user command (see docs/git.md for every variable)."""
        lay = rr.layout
        env = scrubbed_env({
            "PETRI_RUN_ID": ctx.run_id, "PETRI_SLICE_ID": ctx.slice_id or "",
            "PETRI_SLICE_TITLE": (ctx.slice.title or "") if ctx.slice else "",
            "PETRI_TRANSITION": ctx.transition, "PETRI_ATTEMPT": str(ctx.attempt),
            "PETRI_IDEMPOTENCY_KEY": ctx.idempotency_key, "PETRI_WORKTREE": str(cwd),
            "PETRI_BRANCH": branch, "PETRI_RUN_BRANCH": lay.run_branch,
            "PETRI_RUN_WORKTREE": str(lay.run_worktree), "PETRI_BASE": rr.base,
            "PETRI_REPO": str(rr.repo), "PETRI_RUN_DIR": str(lay.run_dir),
            "PETRI_RUN_FILE": str(lay.run_path),
            "PETRI_WORK_DIR": str(lay.work), "PETRI_LOG": str(log)})
        env.update(extra)
        return env

    def _command(self, ctx: StepContext, rr: RunRepo, command: str, what: str, cwd: Path,
                 branch: str, **extra: str) -> tuple[int, str, bool]:
        lay = rr.layout
        name = ctx.slice_id or ctx.step
        log = lay.log(f"{name}.{what}.{ctx.attempt}.log")
        rc, timed_out = run_command(command, owner=os.fspath(lay.run_path), cwd=cwd, log=log,
                                    env=self.command_env(ctx, rr, cwd, branch, log, **extra),
                                    pidfile=lay.work / "pids" / f"{name}.{what}.pid",
                                    timeout_s=self.timeout_s)
        return rc, lay.rel(log), timed_out

    # -- run steps -------------------------------------------------------------------------

    def workspace(self, ctx: StepContext) -> StepResult:
        """``worktree_create``, ``populate`` and ``source_copy`` (by ``ctx.step``)."""
        if ctx.step == "worktree_create":
            return self._worktree_create(ctx)
        if ctx.step == "populate":
            return self._populate(ctx)
        if ctx.step == "source_copy":
            return copy_source(self._repo(ctx), ctx, self.source_policy)
        return StepResult.fail(f"the git ports' workspace port does not handle step "
                               f"{ctx.step!r}; it serves worktree_create, populate and "
                               "source_copy of the executor template")

    def _worktree_create(self, ctx: StepContext) -> StepResult:
        rr = self._repo(ctx)
        lay, git = rr.layout, rr.git
        lay.make_work()
        tips = git.tips(rr.base_ref, lay.run_ref)
        base_tip, run_tip = tips[rr.base_ref], tips[lay.run_ref]
        if base_tip is None:
            return StepResult.fail(f"base branch {rr.base!r} does not exist in {rr.repo}; "
                                   "pass --base BRANCH")
        if run_tip is None:
            git.update_ref(lay.run_ref, base_tip, ZERO, f"petri-exec: run {ctx.run_id}")
            base_commit = base_tip
        else:  # our own branch from a killed attempt, or a stale one of an earlier run
            base_commit = git.merge_base(rr.base_ref, run_tip) or ""
            if base_commit != run_tip:
                return StepResult.fail(
                    f"branch {lay.run_branch} already exists with commits that are not on "
                    f"{rr.base!r} (an earlier run with this run_id?); delete it (petri-exec "
                    f"clean OLD_RUN --branches, or git branch -D {lay.run_branch}) or give "
                    "this run another run_id")
        ensure_worktree(git, lay.run_worktree, lay.run_branch)
        return StepResult.ok(repo=str(rr.repo), base=rr.base, base_commit=base_commit,
                             branch=lay.run_branch, worktree=lay.rel(lay.run_worktree))

    def _populate(self, ctx: StepContext) -> StepResult:
        if self.setup is None:
            return StepResult.ok(setup=None)
        rr = self._repo(ctx)
        lay = rr.layout
        ensure_worktree(rr.git, lay.run_worktree, lay.run_branch)
        rc, log, timed_out = self._command(ctx, rr, self.setup, "setup", lay.run_worktree,
                                           lay.run_branch)
        if rc != 0:
            return StepResult.fail(f"setup command {self.setup!r} "
                                   f"{how_it_ended(rc, timed_out, self.timeout_s)} "
                                   f"(log: {log})", setup_exit_code=rc, setup_log=log)
        return StepResult.ok(setup=self.setup, setup_exit_code=0, setup_log=log)

    def land(self, ctx: StepContext) -> StepResult:
        """``promotion``: check that the run branch lands cleanly on the base's tip."""
        return land(self._repo(ctx), ctx, self.land_mode)

    def host_land(self, ctx: StepContext) -> StepResult:
        """``host_promotion``: move the base branch to the promoted commit."""
        return host_land(self._repo(ctx), ctx, self.land_mode, self.remote)

    # -- slice steps -----------------------------------------------------------------------

    def agent_runner(self, ctx: StepContext) -> StepResult:
        """``agent_result``: run the agent in the slice's worktree; commit what it left.
        Skipped (no agent, no commit) when a dependency's work was not merged."""
        unmerged = _unmerged(ctx)
        if unmerged:
            return StepResult.ok(commit=None, skipped=f"dependency {unmerged} was not merged "
                                 "into the run branch (its tests failed, or it was skipped)")
        rr = self._repo(ctx)
        lay, git, sid = rr.layout, rr.git, ctx.slice_id or ""
        wt, branch, ref = lay.slice_worktree(sid), lay.slice_branch(sid), lay.slice_ref(sid)
        tips = git.tips(lay.run_ref, ref)
        run_tip, slice_tip = tips[lay.run_ref], tips[ref]
        if run_tip is None:
            return StepResult.fail(f"run branch {lay.run_branch} is missing; the run's "
                                   "worktree_create made it (was it deleted?)")
        ensure_worktree(git, wt, branch, start=run_tip if slice_tip is None else None)
        fork = run_tip
        if slice_tip is not None:  # a later attempt: find our commit, else start afresh
            done = git.keyed([slice_tip, "^" + run_tip], ctx.idempotency_key)
            if done is not None:
                return self._agent_facts(rr, sid, git.merge_base(run_tip, done) or run_tip,
                                         done, None, recovered=True)
            fork = git.merge_base(run_tip, slice_tip) or run_tip
            wgit = git.at(wt)
            wgit.run("reset", "--quiet", "--hard", fork)
            wgit.run("clean", "-fdq")
        prompt = lay.work / "prompts" / f"{sid}.md"
        assert ctx.slice is not None
        write_prompt(prompt, prompt_text(ctx.run_id, ctx.slice, ctx.dependencies, branch))
        rc, log, timed_out = self._command(ctx, rr, self.agent, "agent", wt, branch,
                                           PETRI_PROMPT_FILE=str(prompt))
        if rc != 0:
            return StepResult.fail(f"agent command {self.agent!r} "
                                   f"{how_it_ended(rc, timed_out, self.timeout_s)}; nothing "
                                   f"committed (log: {log})", agent_exit_code=rc,
                                   agent_log=log)
        wgit = git.at(wt)
        wgit.run("add", "--all")
        tree = wgit.out("write-tree")
        title = ctx.slice.title or sid
        commit = git.commit_tree(tree, [fork], commit_message(
            title, f"Slice {sid} of run {ctx.run_id}, as the agent command left it.",
            {"Petri-Run": ctx.run_id, "Petri-Slice": sid, KEY_TRAILER: ctx.idempotency_key}))
        git.update_ref(ref, commit, None, f"petri-exec: agent result of slice {sid}")
        return self._agent_facts(rr, sid, fork, commit, log)

    def _agent_facts(self, rr: RunRepo, sid: str, fork: str, commit: str, log: str | None,
                     *, recovered: bool = False) -> StepResult:
        lay = rr.layout
        files = rr.git.changed(fork, commit)
        if log is None:  # recovered: the newest agent log of the slice
            prefix = f"{sid}.agent."
            attempts = [int(n) for p in (lay.work / "logs").glob(f"{prefix}*.log")
                        if (n := p.name[len(prefix):-len(".log")]).isdigit()]
            log = lay.rel(lay.log(f"{prefix}{max(attempts)}.log")) if attempts else None
        facts: dict[str, Any] = {
            "commit": commit, "files_changed": files[:_MAX_FILES], "files_count": len(files),
            "agent_exit_code": 0, "agent_log": log, "slice_branch": lay.slice_branch(sid),
            "worktree": lay.rel(lay.slice_worktree(sid))}
        if recovered:
            facts["recovered"] = True
        return StepResult(None, facts)

    def test_runner(self, ctx: StepContext) -> StepResult:
        """``test_result``: run the test command in the slice's worktree (a verdict)."""
        meta = (ctx.slice.meta if ctx.slice else None) or {}
        if ctx.slice is not None and ctx.slice.facts.get("skipped"):
            return StepResult.ok(verdict="skipped", test_command=None)
        command = meta.get("verify", self.test)
        if command is None:
            return StepResult.ok(verdict="untested", test_command=None)
        if not isinstance(command, str) or not command.strip():
            return StepResult.fail(f"slice {ctx.slice_id!r}: meta.verify must be a shell "
                                   "command string")
        rr = self._repo(ctx)
        lay, sid = rr.layout, ctx.slice_id or ""
        ensure_worktree(rr.git, lay.slice_worktree(sid), lay.slice_branch(sid))
        rc, log, timed_out = self._command(ctx, rr, command, "test", lay.slice_worktree(sid),
                                           lay.slice_branch(sid))
        facts: dict[str, Any] = {
            "verdict": "passed" if rc == 0 else "failed", "test_command": command,
            "test_exit_code": rc, "test_log": log,
            "test_tail": tail(lay.run_dir / log)}
        if timed_out:
            facts["test_timed_out"] = True
        return StepResult(None, facts)

    def integrate(self, ctx: StepContext) -> StepResult:
        """``slice_complete``: merge the slice branch into the run branch as one commit
        (one merge at a time), then remove the slice's worktree."""
        sl = ctx.slice
        assert sl is not None
        if sl.facts.get("verdict") == "failed":
            return StepResult.ok(merged=False, merge_skipped="the slice's tests failed; "
                                 "its branch and worktree are kept for inspection")
        if sl.facts.get("skipped") or _unmerged(ctx):
            return StepResult.ok(merged=False, merge_skipped="a dependency was not merged")
        rr = self._repo(ctx)
        lay, git, sid = rr.layout, rr.git, sl.id
        with merge_lock(lay):
            tips = git.tips(lay.run_ref, lay.slice_ref(sid))
            run_tip, slice_tip = tips[lay.run_ref], tips[lay.slice_ref(sid)]
            if run_tip is None or slice_tip is None:
                missing = lay.run_branch if run_tip is None else lay.slice_branch(sid)
                return StepResult.fail(f"branch {missing} is missing; nothing merged")
            merged = git.keyed([run_tip, "^" + slice_tip], ctx.idempotency_key)
            if merged is None:
                tree, conflicts = git.merge_tree(run_tip, slice_tip)
                if conflicts:
                    return StepResult.fail(
                        f"merging {lay.slice_branch(sid)} into {lay.run_branch} conflicts in "
                        f"{', '.join(conflicts[:20])}; the run branch is unchanged (fix the "
                        "slice and retry it)", conflicts=conflicts[:_MAX_FILES])
                merged = git.commit_tree(tree, [run_tip], commit_message(
                    sl.title or sid, f"Slice {sid} of run {ctx.run_id}, merged into "
                    f"{lay.run_branch}.", {"Petri-Run": ctx.run_id, "Petri-Slice": sid,
                                           "Petri-Slice-Commit": slice_tip,
                                           KEY_TRAILER: ctx.idempotency_key}))
                git.update_ref(lay.run_ref, merged, run_tip, f"petri-exec: merge slice {sid}")
            sync_run_worktree(rr)
        remove_worktree(git, lay.slice_worktree(sid))
        return StepResult.ok(merged=True, merge_commit=merged)

    # -- operating a run -------------------------------------------------------------------

    def preflight(self, run_path: Path | None, run: Run) -> Preflight:
        """Check, touching nothing, that the run can go: a repository with commits, the
        base branch, valid branch names, worktree paths that are free or ours. ``drive()``
        and ``fire()`` call it before the run is locked; ``petri-exec check --ports git``
        prints its report.

        Args:
            run_path: The run file (None for an in-memory run: refused).
            run: The run.

        Returns:
            What was found (repository, base, its tip, the branches and worktrees).

        Raises:
            GitRepoError: One line naming what is wrong and what to do.
        """
        return check_run(self, run_path, run)

    def clean(self, run_path: str | os.PathLike[str], run: Run, *,
              branches: bool = False) -> Cleaned:
        """Remove a run's worktrees (and, with ``branches``, its branches). Do not call it
        while the run is being driven (``petri-exec clean`` holds the run's lock).

        Args:
            run_path: The run file.
            run: The run.
            branches: Also delete ``petri/<run_id>`` and its slice branches (refused
                unless the run is promoted or abandoned).

        Returns:
            What was removed.

        Raises:
            GitRepoError: The repository cannot be found, or ``branches`` on a run that
                is neither promoted nor abandoned.
        """
        return clean_run(self, Path(run_path), run, branches=branches)

    def reset_slices(self, run_path: str | os.PathLike[str], run: Run,
                     slice_ids: Iterable[str]) -> Cleaned:
        """Forget slices' git state so that they start again on fresh branches from the
        run branch: remove their worktrees, delete their branches, stop commands of theirs
        a killed drive left running. ``pe.retry`` calls it for the slices it resets.

        Args:
            run_path: The run file.
            run: The run.
            slice_ids: The slices.

        Returns:
            What was removed.
        """
        return reset_run_slices(self, Path(run_path), run, slice_ids)


def _unmerged(ctx: StepContext) -> str | None:
    """The first dependency whose work did not reach the run branch (``merged: false``)."""
    for dep, facts in ctx.dependencies.items():
        if facts.get("merged") is False:
            return dep
    return None

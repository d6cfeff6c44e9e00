"""Removing a git run's state: ``petri-exec clean`` and the retry hook.

- :func:`clean_run`: a run's worktrees (``<run stem>.work/git/``), and with ``branches`` its
  branches (``petri/<run_id>``, ``petri/<run_id>.slices/*``, the prepared landing), only for
  a run that is finished (at its lane's last status) or abandoned. Logs and prompts stay.
- :func:`reset_run_slices`: some slices' worktrees and branches, so that a retried slice
  starts again on a fresh branch from the run branch.

Both first stop commands of the run that a killed drive left running. Neither takes the
run's lock: ``petri-exec clean`` and ``retry`` do.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from ..errors import GitRepoError
from ..run.model import Run
from ..run.templates import load_template
from .command import stop_orphan
from .gitcmd import Git
from .worktree import Layout, remove_worktree, worktrees

if TYPE_CHECKING:
    from .git import GitPorts

__all__ = ["Cleaned", "clean_run", "reset_run_slices"]


@attrs.frozen
class Cleaned:
    """What a clean removed.

    Attributes:
        worktrees: The worktrees removed.
        branches: The branches (and refs) deleted.
        stopped: Commands of the run that were still running and were stopped.
    """

    worktrees: tuple[str, ...] = ()
    branches: tuple[str, ...] = ()
    stopped: int = 0


def _git(ports: GitPorts, lay: Layout, run: Run) -> Git:
    recorded = run.facts.get("repo")
    top = Path(recorded) if isinstance(recorded, str) else ports.repo
    env = ports.git_env()
    if top is None or not top.is_dir():
        start = top if top is not None and top.is_dir() else lay.run_dir
        proc = Git(start, env).run("rev-parse", "--show-toplevel", ok=(0, 128))
        if proc.returncode:
            raise GitRepoError(f"{lay.run_dir} is not in a git repository and run "
                               f"{run.run_id!r} recorded none; pass --repo PATH")
        top = Path(proc.stdout.decode().strip())
    return Git(top, env)


def _stop(lay: Layout, slice_id: str | None = None) -> int:
    pids = lay.work / "pids"
    if slice_id is not None:
        return sum(stop_orphan(pids / f"{slice_id}.{what}.pid") for what in ("agent", "test"))
    return sum(stop_orphan(p) for p in pids.glob("*.pid")) if pids.is_dir() else 0


def clean_run(ports: GitPorts, run_path: Path, run: Run, *, branches: bool) -> Cleaned:
    """See :meth:`GitPorts.clean`."""
    lay = Layout(run_path.absolute(), run.run_id)
    if branches and run.abandoned is None:
        lane = load_template(run.template).run
        if run.status != lane.statuses[-1]:
            raise GitRepoError(
                f"{run_path}: run {run.run_id!r} is at {run.status!r}, not finished "
                f"({lane.statuses[-1]!r}) nor abandoned, and its branches hold its work; "
                "land it (fire host_promotion) or abandon it first, or clean without "
                "--branches")
    git = _git(ports, lay, run)
    stopped = _stop(lay)
    removed: list[str] = []
    trees = lay.trees.resolve() if lay.trees.exists() else None
    if trees is not None:
        for path, entry in worktrees(git).items():
            if path == trees or trees in path.parents:
                remove_worktree(git, entry.path)
                removed.append(str(entry.path))
        shutil.rmtree(lay.trees, ignore_errors=True)
        git.run("worktree", "prune")
    deleted: list[str] = []
    if branches:
        refs = git.out("for-each-ref", "--format=%(refname)", lay.run_ref,
                       lay.slices_prefix.rstrip("/"), lay.land_ref).split("\n")
        for ref in refs:
            if ref in (lay.run_ref, lay.land_ref) or ref.startswith(lay.slices_prefix):
                git.run("update-ref", "-d", ref)
                deleted.append(ref.removeprefix("refs/heads/"))
    return Cleaned(tuple(removed), tuple(deleted), stopped)


def reset_run_slices(ports: GitPorts, run_path: Path, run: Run,
                     slice_ids: Iterable[str]) -> Cleaned:
    """See :meth:`GitPorts.reset_slices`."""
    lay = Layout(run_path.absolute(), run.run_id)
    ids = list(slice_ids)
    known = {s.id for s in run.slices}
    unknown = [s for s in ids if s not in known]
    if unknown:
        raise GitRepoError(f"{run_path}: run {run.run_id!r} has no slice "
                           f"{', '.join(map(repr, unknown))}")
    git = _git(ports, lay, run)
    stopped = 0
    removed: list[str] = []
    gone: list[str] = []
    refs = git.tips(*(lay.slice_ref(s) for s in ids)) if ids else {}
    for sid in ids:
        stopped += _stop(lay, sid)
        if remove_worktree(git, lay.slice_worktree(sid)):
            removed.append(str(lay.slice_worktree(sid)))
        with contextlib.suppress(FileNotFoundError):
            (lay.work / "prompts" / f"{sid}.md").unlink()
        if refs[lay.slice_ref(sid)] is not None:
            git.run("update-ref", "-d", lay.slice_ref(sid))
            gone.append(lay.slice_branch(sid))
    return Cleaned(tuple(removed), tuple(gone), stopped)

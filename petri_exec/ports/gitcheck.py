"""The git ports' preflight: refuse, before anything is touched, a run they cannot drive.

Checked, with one line naming the problem and the fix for each: the run has a file; its id
and its slices' ids can name git branches; the repository exists, has a working tree and
commits; the base branch exists; settings agree with what the run recorded when it started
(its repository and base); the run's worktree paths are free or worktrees of ours; a run
branch left by an earlier run with the same id is not silently reused. A handful of git
calls, whatever the run's size.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from ..errors import GitRepoError
from ..run.model import Run
from .gitcmd import Git
from .worktree import Layout, worktrees

if TYPE_CHECKING:
    from .git import GitPorts

__all__ = ["Preflight", "branch_name_problem", "check_run", "how_it_ended"]

_BAD_CHARS = frozenset(" ~^:?*[\\/")


@attrs.frozen
class Preflight:
    """What the git ports' preflight found.

    Attributes:
        repo: The repository's top directory (the host checkout).
        base: The base branch.
        base_commit: Its tip.
        run_branch: The run branch (``petri/<run_id>``).
        run_branch_exists: Whether it exists already (a run that started).
        run_worktree: Where the run worktree is (or will be).
        run_worktree_exists: Whether it exists already.
    """

    repo: Path
    base: str
    base_commit: str
    run_branch: str
    run_branch_exists: bool
    run_worktree: Path
    run_worktree_exists: bool

    def lines(self) -> list[str]:
        """The report, one fact per line."""
        return [
            f"repository {self.repo}",
            f"base {self.base} at {self.base_commit[:12]}",
            f"run branch {self.run_branch} "
            f"({'exists: the run resumes on it' if self.run_branch_exists else 'new'})",
            f"run worktree {self.run_worktree} "
            f"({'ours: reused' if self.run_worktree_exists else 'free'})",
        ]


def how_it_ended(rc: int, timed_out: bool, timeout_s: float | None) -> str:
    """``exited with 2``, ``exited with 127 (command not found)``, ``timed out …``."""
    if timed_out:
        return f"timed out after {timeout_s}s and was killed"
    if rc < 0:
        return f"was killed by signal {-rc}"
    hint = {126: " (not executable)", 127: " (command not found)"}.get(rc, "")
    return f"exited with {rc}{hint}"


def branch_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be one path component of a git branch name, or None."""
    if not name:
        return "it is empty"
    if any(c in _BAD_CHARS or ord(c) < 32 or ord(c) == 127 for c in name):
        return "git branch names cannot hold spaces, '/', '~', '^', ':', '?', '*', '[', '\\'"
    if name.startswith(".") or name.endswith("."):
        return "it starts or ends with '.'"
    if ".." in name or "@{" in name or name == "@":
        return "it contains '..' or '@{' (or is '@')"
    if name.endswith(".lock"):
        return "it ends with '.lock'"
    return None


def check_run(ports: GitPorts, run_path: Path | None, run: Run) -> Preflight:
    """See :meth:`GitPorts.preflight`."""
    if run_path is None:
        raise GitRepoError("the git ports need a run file (an in-memory run has no directory "
                           "for its worktrees); drive a run.json")
    where = str(run_path)
    problem = branch_name_problem(run.run_id)
    if problem:
        raise GitRepoError(f"{where}: run_id: {run.run_id!r} cannot name the branch "
                           f"petri/<run_id>: {problem}; use letters, digits, '-', '_', '.'")
    for i, s in enumerate(run.slices):
        problem = branch_name_problem(s.id)
        if problem:
            raise GitRepoError(f"{where}: slices[{i}].id: {s.id!r} cannot name a git branch: "
                               f"{problem}; rename the slice")
    git = _repository(ports, run_path, run)
    base = _base(ports, git, run, where)
    lay = Layout(run_path.absolute(), run.run_id)
    tips = git.tips(f"refs/heads/{base}", lay.run_ref)
    base_tip, run_tip = tips[f"refs/heads/{base}"], tips[lay.run_ref]
    if base_tip is None:
        if not git.out("rev-list", "-n", "1", "--all"):
            raise GitRepoError(f"repository {git.cwd} has no commits; make a first commit "
                               "(git commit --allow-empty -m 'initial commit') and try again")
        known = git.out("for-each-ref", "--format=%(refname:short)", "refs/heads").split()
        raise GitRepoError(f"base branch {base!r} does not exist in {git.cwd}; known "
                           f"branches: {', '.join(known[:10])}; pass --base BRANCH")
    if run_tip is not None and "branch" not in run.facts \
            and git.merge_base(base_tip, run_tip) != run_tip:
        raise GitRepoError(
            f"branch {lay.run_branch} already exists with commits that are not on {base!r} "
            f"(an earlier run with this run_id?); delete it (petri-exec clean OLD_RUN "
            f"--branches, or git branch -D {lay.run_branch}) or give this run another run_id")
    _check_paths(git, lay, run)
    return Preflight(git.cwd, base, base_tip, lay.run_branch, run_tip is not None,
                     lay.run_worktree, lay.run_worktree.exists())


def _repository(ports: GitPorts, run_path: Path, run: Run) -> Git:
    env = ports.git_env()
    recorded = run.facts.get("repo")
    if ports.repo is not None:
        if not ports.repo.is_dir():
            raise GitRepoError(f"--repo {ports.repo}: no such directory; pass the path of a "
                               "git repository")
        if isinstance(recorded, str) and Path(recorded).resolve() != ports.repo.resolve():
            raise GitRepoError(f"{run_path}: run {run.run_id!r} started in repository "
                               f"{recorded}; drop --repo or pass --repo {recorded}")
    start = Path(recorded) if isinstance(recorded, str) else (
        ports.repo or run_path.absolute().parent)
    what = "--repo" if ports.repo is not None else "the run file's directory"
    if not start.is_dir():
        raise GitRepoError(f"{run_path}: the run's repository {start} does not exist any more")
    proc = Git(start, env).run("rev-parse", "--is-bare-repository", ok=(0, 128))
    if proc.returncode:
        raise GitRepoError(f"{start} ({what}) is not in a git repository; pass --repo PATH "
                           "of a repository (or git init one)")
    if proc.stdout.decode().strip() == "true":
        raise GitRepoError(f"{start} is a bare repository; the git ports need a checkout: "
                           "pass --repo PATH of a clone with a working tree")
    return Git(Path(Git(start, env).out("rev-parse", "--show-toplevel")), env)


def _base(ports: GitPorts, git: Git, run: Run, where: str) -> str:
    recorded = run.facts.get("base")
    if isinstance(recorded, str):
        if ports.base is not None and ports.base != recorded:
            raise GitRepoError(f"{where}: run {run.run_id!r} started from base {recorded!r}; "
                               f"drop --base or pass --base {recorded}")
        return recorded
    base = ports.base or git.current_branch()
    problem = None if "/" in base else branch_name_problem(base)
    if problem or any(branch_name_problem(part) for part in base.split("/")):
        raise GitRepoError(f"--base {base!r} is not a branch name; pass --base BRANCH")
    return base


def _check_paths(git: Git, lay: Layout, run: Run) -> None:
    """Refuse worktree paths that exist but are not worktrees of this run."""
    slices_dir = lay.trees / "slices"
    present = [lay.run_worktree] if lay.run_worktree.exists() else []
    if slices_dir.is_dir():
        present += sorted(slices_dir.iterdir())
    if not present:
        return
    known = worktrees(git)
    ids = {s.id for s in run.slices}
    for path in present:
        if path.is_dir() and not any(path.iterdir()):
            continue  # an empty directory is as good as none
        want = lay.run_ref if path == lay.run_worktree else (
            lay.slice_ref(path.name) if path.name in ids else None)
        entry = known.get(path.resolve())
        half_made = entry is not None and entry.branch is None and entry.locked is not None
        if entry is None or want is None or (entry.branch != want and not half_made):
            what = "a worktree of another branch" if entry is not None else (
                "not a worktree of " + str(git.cwd))
            raise GitRepoError(f"{path} exists but is {what}, so it is not this run's; move "
                               "it away (or run petri-exec clean on the run that made it)")

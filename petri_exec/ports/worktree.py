"""Where a git run keeps its things, and worktrees that survive a kill -9.

A run's work directory is ``<run stem>.work/`` beside its run file (as for the shell ports).
The git ports keep, under it, the run worktree ``git/run`` (branch ``petri/<run_id>``), one
worktree per slice ``git/slices/<slice_id>`` (branch ``petri/<run_id>.slices/<slice_id>``),
the prompts ``prompts/``, the logs ``logs/`` and a ``.gitignore`` that hides all of it from
a host checkout it sits in.

:func:`ensure_worktree` is idempotent: it reuses a worktree that is complete, finishes or
redoes one that a killed ``git worktree add`` left behind, and removes the lock files a
killed git command left in it (one step of a slice runs at a time, so any lock found at
the start of a step is stale). Adding, listing and removing worktrees take the repository's
worktree lock (:func:`repo_lock`): two concurrent ``git worktree add`` can each trip over
the other's half-written entry.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import attrs

from ..errors import GitCommandError, GitRepoError
from .gitcmd import Git

__all__ = ["Layout", "RunRepo", "Worktree", "ensure_worktree", "merge_lock",
           "remove_worktree", "repo_lock", "worktrees"]

#: Lock files a killed git command leaves in a worktree's administrative directory.
_ADMIN_LOCKS = ("index.lock", "HEAD.lock", "ORIG_HEAD.lock")


@attrs.frozen
class Layout:
    """Names and paths of one git run.

    Attributes:
        run_path: The run file (absolute).
        run_id: The run's id.
    """

    run_path: Path
    run_id: str

    @property
    def run_dir(self) -> Path:
        """The directory holding the run file."""
        return self.run_path.parent

    @property
    def work(self) -> Path:
        """The run's work directory ``<run stem>.work``."""
        return self.run_dir / f"{self.run_path.stem}.work"

    @property
    def trees(self) -> Path:
        """Where the worktrees go."""
        return self.work / "git"

    @property
    def run_worktree(self) -> Path:
        """The run branch's worktree."""
        return self.trees / "run"

    def slice_worktree(self, slice_id: str) -> Path:
        """Slice ``slice_id``'s worktree."""
        return self.trees / "slices" / slice_id

    @property
    def run_branch(self) -> str:
        """``petri/<run_id>``."""
        return f"petri/{self.run_id}"

    @property
    def run_ref(self) -> str:
        """``refs/heads/petri/<run_id>``."""
        return f"refs/heads/{self.run_branch}"

    @property
    def slices_prefix(self) -> str:
        """The full ref name every slice branch of the run starts with."""
        return f"refs/heads/petri/{self.run_id}.slices/"

    def slice_branch(self, slice_id: str) -> str:
        """``petri/<run_id>.slices/<slice_id>`` (git cannot hold both ``petri/<run_id>``
        and ``petri/<run_id>/<slice_id>``: a ref cannot also be a ref directory)."""
        return f"petri/{self.run_id}.slices/{slice_id}"

    def slice_ref(self, slice_id: str) -> str:
        """The slice branch's full ref name."""
        return f"refs/heads/{self.slice_branch(slice_id)}"

    @property
    def land_ref(self) -> str:
        """Keeps the merge commit a ``--land merge`` promotion prepared."""
        return f"refs/petri/{self.run_id}/land"

    def log(self, name: str) -> Path:
        """A log file's path (the logs directory is created)."""
        logs = self.work / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        return logs / name

    def rel(self, path: Path) -> str:
        """``path`` relative to the run's directory (for facts)."""
        try:
            return str(path.relative_to(self.run_dir))
        except ValueError:
            return str(path)

    def make_work(self) -> None:
        """Create the work directory with a ``.gitignore`` that ignores all of it."""
        self.work.mkdir(parents=True, exist_ok=True)
        ignore = self.work / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# petri-exec's work directory: never part of a commit\n*\n")


@attrs.frozen
class Worktree:
    """One entry of ``git worktree list --porcelain``.

    Attributes:
        path: The worktree's directory.
        branch: The full ref name checked out there, or None (detached or bare).
        locked: The lock reason (``""`` when locked without one), or None.
    """

    path: Path
    branch: str | None
    locked: str | None


class _RepoLock:
    """One repository's worktree lock: re-entrant in a thread, exclusive between threads
    (an ``RLock``) and between processes (an ``flock`` held by the outermost holder)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rlock = threading.RLock()
        self.depth = 0
        self.fd = -1

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        with self.rlock:
            if self.depth == 0:
                self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                fcntl.flock(self.fd, fcntl.LOCK_EX)
            self.depth += 1
            try:
                yield
            finally:
                self.depth -= 1
                if self.depth == 0:
                    os.close(self.fd)  # releases the flock


_repo_locks: dict[Path, _RepoLock] = {}
_repo_locks_guard = threading.Lock()


def _common_dir(top: Path) -> Path:
    """The repository's common git directory, read from files (no git call)."""
    dotgit = top / ".git"
    if dotgit.is_dir():
        return dotgit
    admin = _admin_dir(top)
    if admin is None:
        return dotgit  # not a repository: git itself will say so
    try:
        common = (admin / "commondir").read_text().strip()
    except OSError:
        return admin  # a submodule's own git directory
    return (admin / common).resolve()


def repo_lock(git: Git) -> contextlib.AbstractContextManager[None]:
    """The worktree lock of ``git``'s repository (``<common dir>/petri-exec.worktrees.lock``)."""
    common = _common_dir(git.cwd)
    with _repo_locks_guard:
        lock = _repo_locks.get(common)
        if lock is None:
            lock = _repo_locks[common] = _RepoLock(common / "petri-exec.worktrees.lock")
    return lock.hold()


def worktrees(git: Git) -> dict[Path, Worktree]:
    """The repository's worktrees by resolved path (``git worktree list --porcelain -z``)."""
    out: dict[Path, Worktree] = {}
    fields: dict[str, str | None] = {}
    with repo_lock(git):
        proc = git.run("worktree", "list", "--porcelain", "-z")
    text = proc.stdout.decode(errors="surrogateescape")
    for item in [*text.split("\0"), ""]:
        if item:
            key, _, value = item.partition(" ")
            fields[key] = value
            continue
        if "worktree" in fields:
            path = Path(fields["worktree"] or "")
            out[_resolved(path)] = Worktree(path, fields.get("branch"), fields.get("locked"))
        fields = {}
    return out


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()


def _admin_dir(path: Path) -> Path | None:
    """A linked worktree's administrative directory, from its ``.git`` file."""
    try:
        text = (path / ".git").read_text()
    except OSError:
        return None
    if not text.startswith("gitdir: "):
        return None
    admin = Path(text[len("gitdir: "):].strip())
    return admin if admin.is_absolute() else (path / admin).resolve()


def _clear_locks(git: Git, admin: Path, branch_ref: str) -> None:
    for name in _ADMIN_LOCKS:
        with contextlib.suppress(FileNotFoundError):
            (admin / name).unlink()
    common = admin.parent.parent  # <common dir>/worktrees/<name>
    with contextlib.suppress(FileNotFoundError):
        (common / f"{branch_ref}.lock").unlink()


def ensure_worktree(git: Git, path: Path, branch: str, start: str | None = None) -> bool:
    """Make ``path`` a complete worktree of branch ``branch`` (idempotent).

    Args:
        git: The repository.
        path: The worktree's directory (inside the run's work directory).
        branch: The branch's short name (``petri/<run_id>…``).
        start: Create the branch at this commit (the caller knows it does not exist);
            None: the branch exists.

    Returns:
        True when the worktree was (re)created, False when a complete one was reused.

    Raises:
        GitRepoError: ``path`` holds something that is not a worktree of ``branch``.
        GitCommandError: git failed.
    """
    ref = f"refs/heads/{branch}"
    admin = _admin_dir(path)
    if admin is not None and admin.is_dir() and not (admin / "locked").exists():
        _clear_locks(git, admin, ref)  # stale: one step per worktree at a time
        return False
    with repo_lock(git):
        return _make_worktree(git, path, branch, ref, admin, start)


def _make_worktree(git: Git, path: Path, branch: str, ref: str, admin: Path | None,
                   start: str | None) -> bool:
    if path.exists() or admin is not None:
        entry = worktrees(git).get(_resolved(path))
        if entry is None and path.is_dir() and any(path.iterdir()):
            raise GitRepoError(
                f"{path} exists but is not a worktree of {git.cwd}; it is not petri-exec's: "
                "move it away (or run petri-exec clean on the run that made it)")
        if entry is not None and entry.branch not in (None, ref):
            raise GitRepoError(
                f"{path} is a worktree of branch {entry.branch}, not {ref}; move it away "
                "or run petri-exec clean on the run that made it")
        remove_worktree(git, path)  # a half-made worktree (a kill during worktree add)
    path.parent.mkdir(parents=True, exist_ok=True)
    if start is not None:
        git.run("worktree", "add", "--quiet", "-b", branch, str(path), start)
    else:
        git.run("worktree", "add", "--quiet", str(path), branch)
    return True


def remove_worktree(git: Git, path: Path) -> bool:
    """Remove the worktree at ``path`` and its administrative entry (idempotent).

    Returns:
        Whether there was anything to remove.
    """
    with repo_lock(git):
        if not path.exists() and _admin_dir(path) is None:
            entry = worktrees(git).get(_resolved(path))
            if entry is None:
                return False
        try:
            git.run("worktree", "remove", "--force", "--force", str(path))
        except GitCommandError:  # half-deleted or half-made: remove the files and the entry
            shutil.rmtree(path, ignore_errors=True)
            git.run("worktree", "unlock", str(path), ok=(0, 128))  # a killed add's lock
            git.run("worktree", "prune")
    return True


@contextlib.contextmanager
def merge_lock(layout: Layout) -> Iterator[None]:
    """Serialize merges into a run branch: threads of one process and separate processes
    (an ``flock`` on ``<work>/merge.lock``, one open file per holder)."""
    layout.make_work()
    fd = os.open(layout.work / "merge.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@attrs.frozen
class RunRepo:
    """A git run resolved for one step: where it lives and which repository and base.

    Attributes:
        layout: Its names and paths.
        git: A git runner in the repository's top directory (the host checkout).
        repo: That directory.
        base: The base branch's short name.
    """

    layout: Layout
    git: Git
    repo: Path
    base: str

    @property
    def base_ref(self) -> str:
        """The base branch's full ref name."""
        return f"refs/heads/{self.base}"

"""Running git for the git ports: plumbing with explicit refs, machine-readable output only.

Every call is one ``git`` subprocess (a few milliseconds) in a scrubbed environment: the
variables that would point git at another repository (``GIT_DIR``, ``GIT_WORK_TREE``,
``GIT_INDEX_FILE``, …) are removed, and commits get an explicit author and committer, so
neither the caller's environment nor a missing ``~/.gitconfig`` changes what happens.
Output is read only in the forms git documents for scripts (``-z`` lists, ``--format``
strings, object ids); a failure raises :class:`~petri_exec.errors.GitCommandError` with git's
last line of error output.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import attrs

from ..errors import GitCommandError, GitRepoError, UsageError

__all__ = ["DEFAULT_AUTHOR", "KEY_TRAILER", "ZERO", "Git", "Identity", "commit_message",
           "scrubbed_env"]

#: The author and committer of the git ports' commits unless configured otherwise.
DEFAULT_AUTHOR = "petri-exec <petri-exec@localhost>"
#: The trailer that carries a step's idempotency key in the commits it makes.
KEY_TRAILER = "Petri-Idempotency-Key"
#: The null object id (``update-ref``'s "must not exist yet").
ZERO = "0" * 40

#: Variables that would make git act on another repository, index or work tree.
_SCRUB = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
          "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE", "GIT_PREFIX",
          "GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE")
_IDENTITY = re.compile(r"\s*([^<>]*?)\s*<([^<>\s]+)>\s*")


def scrubbed_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without the variables that redirect git.

    Args:
        extra: Variables to set on top.

    Returns:
        A new environment mapping.
    """
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env["GIT_TERMINAL_PROMPT"] = "0"
    if extra:
        env.update(extra)
    return env


def commit_message(subject: str, body: str, trailers: Mapping[str, str]) -> str:
    """A commit message: one subject line, a body paragraph and a trailer block."""
    lines = [subject.replace("\n", " ").strip() or "petri-exec", "", body, ""]
    lines += [f"{k}: {v}" for k, v in trailers.items()]
    return "\n".join(lines) + "\n"


@attrs.frozen
class Identity:
    """Who the git ports' commits are by (author and committer).

    Attributes:
        name: The name.
        email: The e-mail address.
    """

    name: str
    email: str

    @classmethod
    def parse(cls, text: str) -> Identity:
        """Parse ``"Name <email>"``.

        Raises:
            UsageError: ``text`` does not have that form.
        """
        m = _IDENTITY.fullmatch(text) if isinstance(text, str) else None
        if m is None or not m.group(1):
            raise UsageError(f"author {text!r} is not 'Name <email>'; pass e.g. "
                             f"{DEFAULT_AUTHOR!r}")
        return cls(m.group(1), m.group(2))

    def env(self) -> dict[str, str]:
        """The ``GIT_AUTHOR_*`` and ``GIT_COMMITTER_*`` variables."""
        return {"GIT_AUTHOR_NAME": self.name, "GIT_AUTHOR_EMAIL": self.email,
                "GIT_COMMITTER_NAME": self.name, "GIT_COMMITTER_EMAIL": self.email}


class Git:
    """Runs git commands in one repository (or one of its worktrees).

    Args:
        cwd: Where commands run (``git -C``).
        env: Their environment (see :func:`scrubbed_env`).
    """

    def __init__(self, cwd: Path, env: Mapping[str, str]) -> None:
        self.cwd = cwd
        self.env = dict(env)

    def at(self, cwd: Path) -> Git:
        """The same runner in another directory (a worktree of the same repository)."""
        return Git(cwd, self.env)

    def run(self, *args: str, input: bytes | None = None, ok: Sequence[int] = (0,),
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        """Run ``git ARGS``.

        Args:
            *args: The arguments after ``git``.
            input: Bytes for its standard input.
            ok: Exit codes that are not failures.
            env: Variables to set for this call only.

        Returns:
            The finished process (stdout and stderr as bytes).

        Raises:
            GitCommandError: git could not run, or exited with a code not in ``ok``.
        """
        full = self.env if env is None else {**self.env, **env}
        try:
            proc = subprocess.run(["git", "-C", str(self.cwd), *args], input=input,
                                  capture_output=True, env=full, check=False,
                                  stdin=None if input is not None else subprocess.DEVNULL)
        except OSError as e:
            raise GitCommandError(f"cannot run git ({e.strerror}); install git and put it "
                                  "on PATH") from None
        if proc.returncode not in ok:
            lines = proc.stderr.decode(errors="replace").strip().splitlines()
            last = lines[-1] if lines else "no error output"
            raise GitCommandError(f"git {' '.join(args[:3])}{' …' if len(args) > 3 else ''} "
                                  f"in {self.cwd} exited with {proc.returncode}: {last}")
        return proc

    def out(self, *args: str, input: bytes | None = None,
            env: Mapping[str, str] | None = None) -> str:
        """Run ``git ARGS`` and return its standard output without the final newline."""
        return self.run(*args, input=input, env=env).stdout.decode().rstrip("\n")

    def succeeds(self, *args: str) -> bool:
        """Whether ``git ARGS`` exits 0 (exit 1 is a plain "no"; others raise)."""
        return self.run(*args, ok=(0, 1)).returncode == 0

    # -- plumbing used by the ports -------------------------------------------------------

    def current_branch(self) -> str:
        """The branch checked out in this directory.

        Raises:
            GitRepoError: HEAD is detached.
        """
        proc = self.run("symbolic-ref", "-q", "--short", "HEAD", ok=(0, 1))
        name = proc.stdout.decode().strip()
        if proc.returncode or not name:
            raise GitRepoError(f"{self.cwd}: HEAD is detached, so there is no current branch "
                               "to start from; pass --base BRANCH")
        return name

    def tips(self, *refs: str) -> dict[str, str | None]:
        """The commit each full ref name points to (None when it does not exist): one call."""
        found = {r: None for r in refs}  # type: dict[str, str | None]
        text = self.out("for-each-ref", "--format=%(refname)%00%(objectname)", *refs)
        for line in text.splitlines():
            name, _, sha = line.partition("\0")
            if name in found:
                found[name] = sha
        return found

    def keyed(self, revs: Iterable[str], key: str) -> str | None:
        """The newest commit among ``revs`` (``rev-list`` arguments, e.g. ``["a", "^b"]``)
        whose idempotency trailer is exactly ``key``, or None."""
        text = self.out("rev-list", "--no-commit-header",
                        f"--format=%H%x1f%(trailers:key={KEY_TRAILER},valueonly,"
                        "separator=%x1f)%x1e", *revs, "--")
        for record in text.split("\x1e"):
            sha, _, values = record.strip("\n").partition("\x1f")
            if key in (v.strip() for v in values.split("\x1f")):
                return sha
        return None

    def merge_base(self, a: str, b: str) -> str | None:
        """The best common ancestor of ``a`` and ``b``, or None when they share none."""
        proc = self.run("merge-base", a, b, ok=(0, 1))
        return proc.stdout.decode().strip() or None

    def is_ancestor(self, a: str, b: str) -> bool:
        """Whether commit ``a`` is ``b`` or an ancestor of it."""
        return self.succeeds("merge-base", "--is-ancestor", a, b)

    def merge_tree(self, ours: str, theirs: str) -> tuple[str, list[str]]:
        """A three-way merge of two commits without touching any ref, index or file.

        Returns:
            The merged tree and the conflicting paths (empty when the merge is clean).
        """
        proc = self.run("merge-tree", "--write-tree", "--name-only", "-z", ours, theirs,
                        ok=(0, 1))
        fields = proc.stdout.decode(errors="surrogateescape").split("\0")
        conflicts: list[str] = []
        if proc.returncode == 1:
            for name in fields[1:]:
                if not name:
                    break
                if name not in conflicts:
                    conflicts.append(name)
        return fields[0], conflicts

    def commit_tree(self, tree: str, parents: Sequence[str], message: str) -> str:
        """Create a commit object (unsigned; no ref moves) and return its id."""
        args = ["commit-tree", "--no-gpg-sign", tree]
        for p in parents:
            args += ["-p", p]
        return self.out(*args, "-F", "-", input=message.encode())

    def update_ref(self, ref: str, new: str, old: str | None, why: str) -> None:
        """Point ``ref`` at ``new``; when ``old`` is given, only if it still points there
        (:data:`ZERO`: only if it does not exist yet)."""
        args = ["update-ref", "-m", why, ref, new]
        self.run(*(args if old is None else [*args, old]))

    def changed(self, a: str, b: str) -> list[str]:
        """Paths that differ between commits ``a`` and ``b``."""
        text = self.run("diff-tree", "-r", "-z", "--no-renames", "--name-only",
                        "--no-commit-id", a, b).stdout.decode(errors="surrogateescape")
        return [p for p in text.split("\0") if p]

    def numstat(self, a: str, b: str) -> tuple[int, int, int]:
        """Files changed, lines inserted and lines deleted from ``a`` to ``b``."""
        text = self.run("diff-tree", "-r", "-z", "--no-renames", "--numstat",
                        "--no-commit-id", a, b).stdout.decode(errors="surrogateescape")
        files = added = deleted = 0
        for entry in text.split("\0"):
            parts = entry.split("\t", 2)
            if len(parts) < 3:
                continue
            files += 1
            added += int(parts[0]) if parts[0].isdigit() else 0
            deleted += int(parts[1]) if parts[1].isdigit() else 0
        return files, added, deleted

"""The git side of ``petri-exec``: ``--ports git`` and its options on drive, fire and check,
and the ``clean`` command.

``--ports git`` builds :class:`~petri_exec.ports.GitPorts` from ``--agent``, ``--test``,
``--setup``, ``--repo``, ``--base``, ``--source-policy``, ``--land``, ``--author``,
``--remote`` and ``--command-timeout``; those options with any other ``--ports`` are a usage
error. drive and fire run the ports' preflight before anything is touched (a bad repository
is one line, exit 2); ``check --ports git`` runs only the preflight and prints what it found.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..engine.durable import load_run
from ..engine.lock import run_lock
from ..errors import UsageError
from ..ports.git import GitPorts
from ..ports.gitcmd import DEFAULT_AUTHOR

__all__ = ["add_git_options", "git_ports", "register", "report_preflight"]

#: The git options: (flag, attribute, metavar or choices, help).
_OPTIONS: tuple[tuple[str, str, Any, str], ...] = (
    ("--agent", "agent", "CMD", "git ports: the agent command line, run with /bin/sh -c in "
     "each slice's worktree; the prompt file's path is in $PETRI_PROMPT_FILE"),
    ("--test", "test", "CMD", "git ports: the test command (a slice's meta.verify overrides "
     "it); exit 0 = verdict passed"),
    ("--setup", "setup", "CMD", "git ports: a command run in the run worktree by populate"),
    ("--repo", "repo", "PATH", "git ports: the repository (default: the one holding RUN)"),
    ("--base", "base", "BRANCH", "git ports: the branch the run starts from and lands on "
     "(default: the repository's current branch)"),
    ("--source-policy", "source_policy", ("head", "working-tree"), "git ports: head "
     "(default: committed state only) or working-tree (also the checkout's uncommitted and "
     "untracked changes, as one snapshot commit)"),
    ("--land", "land", ("ff", "merge"), "git ports: how host_promotion moves the base: ff "
     "(fast-forward, default) or merge (a merge commit)"),
    ("--author", "author", "'NAME <EMAIL>'", "git ports: author and committer of the "
     f"commits (default {DEFAULT_AUTHOR!r})"),
    ("--remote", "remote", "NAME", "git ports: push the base branch there after "
     "host_promotion (default: never push)"),
    ("--command-timeout", "command_timeout", "S", "git ports: kill an agent, test or setup "
     "command after S seconds"),
)


def add_git_options(p: argparse.ArgumentParser) -> None:
    """Add the ``--ports git`` options to a command's parser (drive, fire, check)."""
    g = p.add_argument_group("git ports (--ports git; docs/git.md)")
    for flag, dest, meta, help_ in _OPTIONS:
        if isinstance(meta, tuple):
            g.add_argument(flag, dest=dest, choices=meta, help=help_)
        elif dest == "command_timeout":
            g.add_argument(flag, dest=dest, type=float, metavar=meta, help=help_)
        else:
            g.add_argument(flag, dest=dest, metavar=meta, help=help_)


def _given(a: argparse.Namespace) -> list[str]:
    return [flag for flag, dest, _, _ in _OPTIONS if getattr(a, dest, None) is not None]


def git_ports(spec: str, a: argparse.Namespace | None) -> GitPorts | None:
    """The git ports for ``--ports git`` (None for another spec, which must not come with
    git options).

    Raises:
        UsageError: Git options without ``--ports git``, or ``--ports git`` without
            ``--agent``, or a bad option value.
    """
    given = _given(a) if a is not None else []
    if spec == "git" and (a is None or not hasattr(a, "agent")):
        return GitPorts(agent="true")  # a command without git options (retry): runs no agent
    if spec != "git":
        if given:
            raise UsageError(f"{', '.join(given)} configure the git ports; add --ports git "
                             f"(got --ports {spec})")
        return None
    if a is None or a.agent is None:
        raise UsageError("--ports git needs --agent CMD: the agent command line (e.g. --agent "
                         "\"python3 nets/examples/scripted_agent.py\"; docs/git.md has "
                         "recipes for real agents)")
    options: dict[str, Any] = {k: getattr(a, k) for k in (
        "base", "test", "setup", "remote") if getattr(a, k) is not None}
    if a.source_policy is not None:
        options["source_policy"] = a.source_policy
    if a.land is not None:
        options["land"] = a.land
    if a.author is not None:
        options["author"] = a.author
    if a.command_timeout is not None:
        options["timeout_s"] = a.command_timeout
    return GitPorts(a.repo, agent=a.agent, **options)


def report_preflight(ports: Any, run_path: str) -> list[str] | None:
    """Run a ports object's preflight on ``run_path`` (``check --ports``); its report lines
    (None when the ports have no preflight).

    Raises:
        PetriExecError: The preflight refused the run.
    """
    check = getattr(ports, "preflight", None)
    if not callable(check):
        return None
    found = check(Path(run_path), load_run(run_path))
    lines = getattr(found, "lines", None)
    return list(lines()) if callable(lines) else []


def cmd_clean(a: argparse.Namespace) -> int:
    ports = GitPorts(a.repo, agent="true")  # clean runs no command
    path = Path(a.run)
    load_run(path)  # refuse a bad run before locking it
    with run_lock(path):
        run = load_run(path)
        done = ports.clean(path, run, branches=a.branches)
    what = [f"{len(done.worktrees)} worktree(s)"]
    if a.branches:
        what.append(f"{len(done.branches)} branch(es)")
    if done.stopped:
        what.append(f"stopped {done.stopped} leftover command(s)")
    print(f"{a.run}: run {run.run_id!r}: removed {', '.join(what)}")
    for item in (*done.worktrees, *done.branches):
        print(f"  {item}")
    return 0


def register(add: Any) -> None:
    """Declare ``clean``.

    Args:
        add: The parser's ``add(name, handler, help, examples)`` (see :mod:`.app`).
    """
    c = add("clean", cmd_clean,
            "remove a git run's worktrees (and its branches with --branches: only once it is "
            "landed or abandoned); its logs and prompts stay",
            "petri-exec clean run.json\npetri-exec clean run.json --branches")
    c.add_argument("--branches", action="store_true",
                   help="also delete petri/<run_id> and its slice branches")
    c.add_argument("--repo", metavar="PATH",
                   help="the repository, when the run recorded none (default: the one "
                        "holding RUN)")

"""Built-in ``shell`` ports: drive a run with shell commands, without writing Python.

- ``agent_runner`` (executor) and ``runner`` (minimal) run the slice's ``meta.run``;
- ``test_runner`` runs ``meta.verify`` when present (exit 0 -> verdict ``passed``, else
  ``failed``) and reports ``passed`` when there is none;
- ``workspace`` creates the run directory ``<run stem>.work/`` beside run.json;
- ``land`` and ``host_land`` record what would be landed (the files in the run directory);
  they never touch git.

:meth:`ShellPorts.preflight` (``petri-exec check RUN --ports shell``) finds, without running
anything, what these ports would refuse at drive time.

Commands run with the run directory as working directory, each in its own process group
(:mod:`.procgroup`). A command that needs no shell (plain words of letters, digits and
``_-./=:,+@%``: no quotes, variables, globs, redirections, pipes, separators or
assignments, and not a shell builtin or keyword) is spawned directly, as make does;
anything else, or a program not found on ``PATH``, runs through ``/bin/sh -c`` (which
reports it with exit 127 in the log): a timeout, an interrupt or the drive's end ends
everything the command started. stdout and stderr go to
``<run dir>/logs/<slice or step>.<what>.<attempt>.log``. A non-zero exit fails the step with
the exit code and the log path in the reason.

Commands see the environment the drive had at its first command (``os.environ``, read and
encoded once per drive, plus the ``PETRI_*`` variables of the step), and a directly
spawned program is looked up on that ``PATH`` once per drive when every ``PATH`` entry is
absolute (a relative entry depends on the working directory: the spawn then searches
itself). A program removed after its lookup falls back to the shell; one installed later
is found by the spawn's own search.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
from pathlib import Path
from typing import Any

from ..run.model import Run
from ..run.templates import Template, load_template
from .procgroup import KILL_AFTER_S, run_command
from .protocol import StepContext, StepResult, check_seconds

__all__ = ["SHELL_BUILTINS", "ShellPorts", "direct_argv", "unused_verify"]

#: The meta key each command-running port reads.
_META_KEY = {"agent_runner": "run", "runner": "run", "test_runner": "verify"}
#: Words /bin/sh runs itself: never looked up on PATH.
SHELL_BUILTINS = frozenset({
    "!", "{", "}", "(", ")", "[", "[[", "]]", ".", ":", "alias", "bg", "break", "case", "cd",
    "command", "continue", "do", "done", "echo", "elif", "else", "esac", "eval", "exec",
    "exit", "export", "false", "fg", "fi", "for", "function", "getopts", "hash", "if", "in",
    "jobs", "kill", "let", "local", "printf", "pwd", "read", "readonly", "return", "set",
    "shift", "source", "test", "then", "times", "trap", "true", "type", "ulimit", "umask",
    "unalias", "unset", "until", "wait", "while"})
#: Reserved words after which a new command starts.
_KEYWORDS = frozenset({"if", "then", "else", "elif", "do", "while", "until", "time", "{", "!"})


def unused_verify(run: Run, template: Template) -> list[str]:
    """Warnings for slices whose ``meta.verify`` nothing runs: the template has no step
    calling the ``test_runner`` port (the one that runs it).

    Args:
        run: The run.
        template: Its template.

    Returns:
        One line per such slice (empty when the template has a test step).
    """
    if any(st.port == "test_runner" for st in template.slice.steps):
        return []
    return [f"slices[{i}].meta.verify: template {template.name!r} has no step calling port "
            f"'test_runner', so the check of slice {s.id!r} never runs; use a template with a "
            "test step (executor) or append it to meta.run (run && verify)"
            for i, s in enumerate(run.slices) if s.meta and s.meta.get("verify") is not None]


#: Quoted strings (replaced by a placeholder before a command line is split).
_QUOTED = re.compile(r"'[^']*'|\"(?:[^\"\\]|\\.)*\"")
#: What separates simple commands (a command substitution starts one too).
_SEPARATORS = re.compile(r"&&|\|\||[;|&()\n{}]|\$\(|`")
#: A redirection (``>``, ``2>>``, ``<``, ``&>``), with or without its target attached.
_REDIRECT = re.compile(r"^(?:\d*|&)(?:>>?|<)(.*)$")


@functools.lru_cache(maxsize=4096)
def _programs(command: str) -> tuple[str, ...]:
    """The programs a shell command line starts (the first word of each simple command),
    leaving out builtins, assignments, redirections and words the shell expands; a cheap
    scan (no full shell grammar), cached per command line."""
    found: list[str] = []
    for segment in _SEPARATORS.split(_QUOTED.sub(" \x00 ", command)):
        words = iter(segment.split())
        for w in words:
            if w in _KEYWORDS or ("=" in w and not w.startswith("=")):
                continue  # 'then cmd', 'NAME=value cmd'
            redirect = _REDIRECT.match(w)
            if redirect:
                if not redirect.group(1):
                    next(words, None)  # its target
                continue
            if w not in SHELL_BUILTINS and not any(c in w for c in "\x00$`*?~[\\"):
                found.append(w)
            break
    return tuple(found)


_PLAIN = re.compile(r"[A-Za-z0-9_\-./=:,+@% \t]+")
#: First words the shell itself handles (builtins and keywords): always through /bin/sh
#: (``true`` and ``false`` without arguments behave alike as programs).
_SHELL_WORDS = (SHELL_BUILTINS - {"true", "false"}) | {
    "builtin", "declare", "fc", "select", "time", "typeset"}


def direct_argv(command: str) -> list[str] | None:
    """The argv to spawn ``command`` directly, or None when it needs ``/bin/sh``.

    Args:
        command: A shell command line.

    Returns:
        Its words when it is plain words only (see the module docstring), else None.
    """
    if not _PLAIN.fullmatch(command):
        return None
    words = command.split()
    if not words or words[0] in _SHELL_WORDS or "=" in words[0]:
        return None
    if words[0] in ("true", "false") and len(words) > 1:  # GNU's answer --help
        return None
    return words


class ShellPorts:
    """The built-in shell ports (``petri-exec drive RUN --ports shell``).

    Args:
        timeout_s: End a command (its whole process group) after this many seconds (None:
            no limit).
        kill_after_s: Seconds between ``SIGTERM`` and ``SIGKILL`` when a command is ended.

    Raises:
        UsageError: ``timeout_s`` or ``kill_after_s`` is not a finite number of seconds
            (``timeout_s`` > 0, ``kill_after_s`` >= 0).
    """

    def __init__(self, timeout_s: float | None = None,
                 kill_after_s: float = KILL_AFTER_S) -> None:
        if timeout_s is not None:
            check_seconds("timeout_s", timeout_s, zero=False)
        check_seconds("kill_after_s", kill_after_s, zero=True)
        self.timeout_s = timeout_s
        self.kill_after_s = kill_after_s
        self._env: dict[bytes, bytes] | None = None  # os.environ, encoded once per drive
        self._where: dict[str, str | None] = {}  # program -> its file on PATH, or None

    def _environment(self) -> dict[bytes, bytes]:
        """The drive's environment, encoded once (read at its first command; the
        :meth:`preflight` that starts each drive clears it)."""
        if self._env is None:
            self._env = {os.fsencode(k): os.fsencode(v) for k, v in os.environ.items()}
        return self._env

    def _executable(self, program: str) -> str | None:
        """``program``'s file as the command's own PATH search would find it, looked up
        once per drive; None to let the spawn search (a name with ``/``, a PATH with a
        relative entry, whose meaning depends on the working directory) or when it is
        not found (the shell then runs the command and says why)."""
        if program in self._where:
            return self._where[program]
        found = None
        path = os.fsdecode(self._environment().get(b"PATH", os.fsencode(os.defpath)))
        if "/" not in program and all(os.path.isabs(d) for d in path.split(os.pathsep)):
            found = shutil.which(program, path=path)
        self._where[program] = found
        return found

    @staticmethod
    def work_dir(ctx: StepContext) -> Path:
        """The run directory ``<run stem>.work`` beside run.json."""
        if ctx.run_path is not None:
            return ctx.run_path.with_name(f"{ctx.run_path.stem}.work")
        if ctx.run_dir is None:
            raise ValueError("shell ports need a run file (run_dir is None for in-memory runs)")
        return ctx.run_dir / f"{ctx.run_id}.work"

    def _run(self, ctx: StepContext, command: str, what: str) -> tuple[int | None, Path]:
        work = self.work_dir(ctx)
        log = work / "logs" / f"{ctx.slice_id or ctx.step}.{what}.{ctx.attempt}.log"
        env = {**self._environment(),
               b"PETRI_RUN_ID": os.fsencode(ctx.run_id),
               b"PETRI_TRANSITION": os.fsencode(ctx.transition),
               b"PETRI_SLICE_ID": os.fsencode(ctx.slice_id or ""),
               b"PETRI_ATTEMPT": b"%d" % ctx.attempt,
               b"PETRI_IDEMPOTENCY_KEY": os.fsencode(ctx.idempotency_key)}
        argv = direct_argv(command)
        try:
            out = open(log, "wb")  # noqa: SIM115 - the command's one log file handle
        except FileNotFoundError:  # the first command of the run: make its directories
            log.parent.mkdir(parents=True, exist_ok=True)
            out = open(log, "wb")  # noqa: SIM115
        with out:
            if argv is not None:
                try:
                    rc = run_command(argv, owner=_owner(ctx), cwd=work, env=env, stdout=out,
                                     timeout_s=self.timeout_s,
                                     kill_after_s=self.kill_after_s,
                                     executable=self._executable(argv[0]))
                    return rc, log
                except OSError:  # not found, not executable, a script without #!: the
                    pass  # shell runs it or says why, as it always did
            rc = run_command(["/bin/sh", "-c", command], owner=_owner(ctx), cwd=work,
                             env=env, stdout=out, timeout_s=self.timeout_s,
                             kill_after_s=self.kill_after_s)
        return rc, log

    def _command(self, ctx: StepContext, key: str) -> str | StepResult | None:
        """The slice's ``meta.<key>`` command, None, or the failure that refuses it."""
        if ctx.run_dir is None:
            return StepResult.fail("the shell ports need a run file: drive a run.json path, "
                                   "not an in-memory run")
        meta = ctx.slice.meta if ctx.slice is not None else None
        value = (meta or {}).get(key)
        if value is not None and not isinstance(value, str):
            return StepResult.fail(f"slice {ctx.slice_id!r}: meta.{key} must be a shell "
                                   f"command (a string), got {type(value).__name__}")
        return value

    def workspace(self, ctx: StepContext) -> dict[str, Any] | StepResult:
        """Create the run directory."""
        if ctx.run_dir is None:
            return StepResult.fail("the shell ports need a run file: drive a run.json path, "
                                   "not an in-memory run")
        work = self.work_dir(ctx)
        work.mkdir(parents=True, exist_ok=True)
        return {"work_dir": work.name}

    def agent_runner(self, ctx: StepContext) -> StepResult:
        """Run ``meta.run`` (fails when the slice has none)."""
        command = self._command(ctx, "run")
        if isinstance(command, StepResult):
            return command
        if command is None:
            return StepResult.fail(f"slice {ctx.slice_id!r} has no meta.run command; add "
                                   '"meta": {"run": "<shell command>"} to the slice')
        rc, log = self._run(ctx, command, "run")
        rel = str(log.relative_to(self.work_dir(ctx).parent))
        if rc != 0:
            what = _ending(rc, self.timeout_s)
            return StepResult.fail(f"meta.run {what} (log: {rel})",
                                   exit_code=-1 if rc is None else rc, log=rel)
        return StepResult.ok(exit_code=0, log=rel)

    runner = agent_runner

    def test_runner(self, ctx: StepContext) -> dict[str, Any] | StepResult:
        """Run ``meta.verify``: exit 0 gives verdict ``passed``, anything else ``failed``."""
        command = self._command(ctx, "verify")
        if isinstance(command, StepResult):
            return command
        if command is None:
            return {"verdict": "passed"}
        rc, log = self._run(ctx, command, "verify")
        rel = str(log.relative_to(self.work_dir(ctx).parent))
        return {"verdict": "passed" if rc == 0 else "failed", "verify_log": rel}

    def land(self, ctx: StepContext) -> StepResult:
        """Record the files that would be landed (never touches git)."""
        work = self.work_dir(ctx)
        files = sorted(
            str(p.relative_to(work)) for p in work.rglob("*")
            if p.is_file() and "logs" not in p.relative_to(work).parts
        ) if work.is_dir() else []
        if not files:
            return StepResult.ok(changes=False)
        return StepResult.ok(would_land=files)

    host_land = land

    def preflight(self, run_path: str | os.PathLike[str], run: Run) -> list[str]:
        """What a drive of ``run`` with these ports would refuse, found without running
        anything: for every step still to fire, a slice without ``meta.run`` (or with a
        command that is not a string) is a problem; ``meta.verify`` that no step runs, and
        a command whose program is not on PATH, are warnings (``"warning: "`` first).

        Args:
            run_path: The run file (the commands run in ``<run stem>.work/`` beside it).
            run: The run, as loaded from it.

        Returns:
            One line per finding; problems first. Empty when nothing was found.
        """
        self._env, self._where = None, {}  # a new drive: read the environment, PATH again
        template = load_template(run.template)
        lane = template.slice
        problems: list[str] = []
        warnings = [f"warning: {w}" for w in unused_verify(run, template)]
        on_path: dict[str, bool] = {}
        for i, s in enumerate(run.slices):
            at = lane.position(s.status)
            meta = s.meta or {}
            for k, st in enumerate(lane.steps):
                key = _META_KEY.get(st.port or "")
                if key is None or k < at:
                    continue  # not a command step, or fired already
                where = f"slices[{i}].meta.{key}"
                command = meta.get(key)
                if command is None:
                    if key == "run":
                        problems.append(
                            f"{where}: slice {s.id!r} has no meta.run, so the shell ports "
                            f"fail {st.name}:{s.id}; add \"meta\": {{\"run\": \"<shell "
                            "command>\"}")
                    continue
                if not isinstance(command, str):
                    problems.append(f"{where}: must be a shell command (a string), got "
                                    f"{type(command).__name__}; the shell ports fail "
                                    f"{st.name}:{s.id}")
                    continue
                warnings.extend(
                    f"warning: {where}: program {p!r} is not on PATH (the command of slice "
                    f"{s.id!r} would exit with 127); install it or fix the command"
                    for p in _programs(command) if not _found(p, run_path, on_path))
        return problems + warnings


def _found(program: str, run_path: str | os.PathLike[str], on_path: dict[str, bool]) -> bool:
    """Whether /bin/sh would find ``program`` from the run directory (``on_path`` caches
    PATH lookups for one preflight)."""
    if "/" not in program:
        known = on_path.get(program)
        if known is None:
            known = on_path[program] = shutil.which(program) is not None
        return known
    path = Path(program)
    if not path.is_absolute():
        work = Path(run_path).with_name(f"{Path(run_path).stem}.work")
        if not work.is_dir():
            return True  # made by an earlier step, perhaps: cannot tell yet
        path = work / path
    return os.access(path, os.X_OK) and path.is_file()

def _owner(ctx: StepContext) -> str | None:
    """The drive a command belongs to (its process group is ended with the drive)."""
    return os.fspath(ctx.run_path) if ctx.run_path is not None else None


def _ending(rc: int | None, timeout_s: float | None) -> str:
    if rc is None:
        return f"timed out after {timeout_s:g}s (its process group was ended)"
    if rc < 0:
        return f"was killed by signal {-rc}"
    return f"exited with {rc}"

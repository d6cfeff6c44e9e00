"""The options of the command line that stand for API arguments, and their checks.

Every value is checked here, before the API is called, and every refusal is one
:class:`~petri_exec.errors.UsageError` line in command-line terms, naming the flag and the
value (``--max-parallel 0: must be a positive integer``), never a Python argument name.
``module:attr`` specs (``--ports``, ``--scheduler``) are imported from the current
directory first; whatever importing them raises is bad input, not an internal error.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import math
import os
import shlex
import socket
import sys
from collections.abc import Iterator
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from ..engine.durable import load_run
from ..errors import UsageError
from .git import git_ports

__all__ = [
    "PORTS_OPTIONS",
    "count",
    "dask_executor",
    "fire_command",
    "load_object",
    "load_ports",
    "positive_int",
    "scheduler_for",
    "scheduler_spec",
    "seconds",
    "template_dirs",
    "use_template_dirs",
]

#: Destinations of the options that make up a ports spec, repeated in the hint that shows
#: how to fire a manual gate (a ports set with options of its own appends its names here).
PORTS_OPTIONS: list[str] = ["ports"]

#: How long ``--dask`` waits for the scheduler to answer.
DASK_CONNECT_TIMEOUT_S = 10


def positive_int(flag: str, raw: str | None) -> int | None:
    """``raw`` as an integer >= 1, or None when the flag was not given.

    Raises:
        UsageError: ``--flag VALUE: must be a positive integer``.
    """
    return _int(flag, raw, 1, "a positive integer")


def count(flag: str, raw: str | None) -> int | None:
    """``raw`` as an integer >= 0, or None when the flag was not given.

    Raises:
        UsageError: ``--flag VALUE: must be a non-negative integer``.
    """
    return _int(flag, raw, 0, "a non-negative integer")


def _int(flag: str, raw: str | None, low: int, what: str) -> int | None:
    if raw is None:
        return None
    try:
        value = int(raw, 10)
    except ValueError:
        value = low - 1
    if value < low:
        raise UsageError(f"{flag} {raw}: must be {what}")
    return value


def seconds(flag: str, raw: str | None, *, positive: bool) -> float | None:
    """``raw`` as a finite number of seconds (> 0 or >= 0), or None when not given.

    Raises:
        UsageError: ``--flag VALUE: must be a positive number of seconds``.
    """
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        what = "a positive" if positive else "a non-negative"
        raise UsageError(f"{flag} {raw}: must be {what} number of seconds (e.g. 30 or 0.5)")
    return value


def template_dirs(a: argparse.Namespace) -> list[str]:
    """The ``--template-dir`` directories given, in order (absolute paths)."""
    return [os.path.abspath(d) for d in getattr(a, "template_dir", None) or ()]


def use_template_dirs(a: argparse.Namespace) -> None:
    """Check the ``--template-dir`` directories and put them first in
    ``PETRI_EXEC_TEMPLATE_PATH`` for this process, so that every template lookup of the
    command (a custom scheduler's included) searches them first.

    Raises:
        UsageError: A directory does not exist.
    """
    dirs = template_dirs(a)
    for given, d in zip(getattr(a, "template_dir", None) or (), dirs, strict=True):
        if not os.path.isdir(d):
            raise UsageError(f"--template-dir {given}: not a directory; name the directory "
                             "that holds your <template>.toml files")
    if dirs:
        rest = os.environ.get("PETRI_EXEC_TEMPLATE_PATH", "")
        os.environ["PETRI_EXEC_TEMPLATE_PATH"] = os.pathsep.join([*dirs, *([rest] if rest
                                                                            else [])])


def load_object(flag: str, spec: str) -> Any:
    """Import ``module:attr`` (``attr`` may be dotted) from the current directory.

    Raises:
        UsageError: The spec is malformed, the module cannot be imported (whatever it
            raised) or has no such attribute.
    """
    module, sep, attr = spec.partition(":")
    if not sep or not all(part.isidentifier() for part in (*module.split("."),
                                                           *attr.split("."))):
        raise UsageError(f"{flag} {spec!r}: expected module:attribute (a module importable "
                         "from the current directory and an attribute name)")
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        obj: Any = importlib.import_module(module)
    except SyntaxError as e:
        raise UsageError(f"{flag} {spec!r}: {e.filename}:{e.lineno}: syntax error ({e.msg}); "
                         "fix the module") from None
    except ImportError as e:
        raise UsageError(f"{flag} {spec!r}: cannot import module {module!r} ({e}); run from "
                         "the directory that holds it or add it to PYTHONPATH") from None
    except Exception as e:
        raise UsageError(f"{flag} {spec!r}: importing module {module!r} raised "
                         f"{type(e).__name__}: {e}; fix the module") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UsageError(f"{flag} {spec!r}: module {module!r} has no attribute "
                             f"{attr!r}") from None
    return obj


def load_ports(spec: str, a: argparse.Namespace | None = None) -> Any:
    """The ports of ``--ports SPEC``: ``shell``, ``git`` (built from the git options in
    ``a``) or ``module:attr``.

    Raises:
        UsageError: As :func:`load_object`, in terms of ``--ports``; git options without
            ``--ports git``, or ``--ports git`` without ``--agent``.
    """
    git = git_ports(spec, a)  # --ports git, and git options only with it
    if git is not None:
        return git
    if spec == "shell":
        from ..ports.shell import ShellPorts

        return ShellPorts()
    if ":" not in spec:
        raise UsageError(f"--ports {spec!r}: use 'shell', 'git' or module:attribute (a "
                         "mapping of port names to callables, or an object with those "
                         "attributes)")
    return load_object("--ports", spec)


def _is_scheduler(obj: Any) -> bool:
    return not isinstance(obj, type) and hasattr(obj, "ready") and hasattr(obj, "net")


def scheduler_spec(spec: str) -> Any:
    """What ``--scheduler SPEC`` names, imported but not built: ``petri``, ``linear``, a
    scheduler object or a factory (see :func:`scheduler_for`).

    Raises:
        UsageError: Unknown name, or an import that fails.
    """
    if spec in ("petri", "linear"):
        return spec
    if ":" not in spec:
        raise UsageError(f"--scheduler {spec!r}: use petri, linear or module:attribute (a "
                         "scheduler object, or a factory called with the run)")
    return load_object("--scheduler", spec)


def scheduler_for(spec: str, run_path: str, named: Any = None) -> Any:
    """The scheduler of ``--scheduler SPEC`` for the run file ``run_path``.

    ``petri`` and ``linear`` are returned as they are. ``module:attr`` names a scheduler
    object (anything with ``net`` and ``ready()``) or a factory called with the loaded run:
    a class with a ``for_run(run)`` classmethod (``for_run`` is called), or any callable
    ``run -> scheduler`` (a class without ``for_run`` is called with the run), as in the
    scheduler contract harness.

    Args:
        spec: The flag's value.
        run_path: The run file.
        named: What :func:`scheduler_spec` returned for ``spec``, if it was called already.

    Raises:
        UsageError: Unknown name, an import that fails, a factory that raises or returns
            something that is not a scheduler.
    """
    obj = scheduler_spec(spec) if named is None else named
    if isinstance(obj, str) or _is_scheduler(obj):
        return obj
    factory = getattr(obj, "for_run", obj) if isinstance(obj, type) else obj
    if not callable(factory):
        raise UsageError(f"--scheduler {spec!r}: names an object of type "
                         f"{type(obj).__name__}, neither a scheduler (net and ready()) nor a "
                         "factory called with the run")
    run = load_run(run_path)
    try:
        made = factory(run)
    except Exception as e:
        raise UsageError(f"--scheduler {spec!r}: building the scheduler for run {run.run_id!r} "
                         f"raised {type(e).__name__}: {e}") from None
    if not _is_scheduler(made):
        raise UsageError(f"--scheduler {spec!r}: the factory returned an object of type "
                         f"{type(made).__name__}, not a scheduler (an object with net and "
                         "ready(); subclass petri_exec.Scheduler)")
    return made


def _dask_address(address: str) -> None:
    """Refuse at once an address no Dask scheduler can be at (an unknown scheme, a port
    nothing listens on) instead of letting the client retry for its whole timeout."""
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    if scheme not in ("tcp", "tls", "ws", "wss", "inproc", "ucx"):
        raise UsageError(f"--dask {address}: unknown scheme {scheme!r}; give the scheduler's "
                         "address, e.g. tcp://127.0.0.1:8786")
    if scheme != "tcp":
        return
    host, colon, port = rest.rpartition(":")
    if not colon or not port.isdigit() or not host:
        raise UsageError(f"--dask {address}: expected tcp://HOST:PORT, e.g. "
                         "tcp://127.0.0.1:8786")
    try:
        socket.create_connection((host.strip("[]"), int(port)),
                                 timeout=DASK_CONNECT_TIMEOUT_S).close()
    except OSError as e:
        raise UsageError(f"--dask {address}: no Dask scheduler answers there "
                         f"({e.strerror or e}); start one (dask scheduler) or check the "
                         "address") from None


@contextlib.contextmanager
def dask_executor(address: str) -> Iterator[tuple[Executor, int]]:
    """Connect to the Dask scheduler at ``address``; yield its executor and the number of
    worker threads, and disconnect afterwards (the cluster keeps running).

    Raises:
        UsageError: ``distributed`` is not installed, or nothing answers at ``address``.
    """
    _dask_address(address)
    try:
        import distributed  # heavy and optional: imported only for --dask
    except ImportError:
        raise UsageError(f"--dask {address}: needs the distributed package; "
                         "pip install 'dask[distributed]'") from None
    connect: Any = distributed.Client
    try:
        client = connect(address, timeout=DASK_CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise UsageError(f"--dask {address}: no Dask scheduler answers there "
                         f"({type(e).__name__}: {e}); start one (dask scheduler) or check "
                         "the address") from None
    try:
        threads = sum(client.nthreads().values())
        yield client.get_executor(), threads
    finally:
        client.close()


def fire_command(a: argparse.Namespace, transition: str) -> str:
    """The command that fires ``transition`` of the run ``a.run`` with the same ports (and
    template directories) as the command being run."""
    words = ["petri-exec", "fire", a.run, transition]
    for dest in PORTS_OPTIONS:
        value = getattr(a, dest, None)
        if value is None or value is False:
            continue
        flag = "--" + dest.replace("_", "-")
        for v in (value if isinstance(value, list) else [value]):
            words.extend([flag] if v is True else [flag, str(v)])
    for d in getattr(a, "template_dir", None) or ():
        words.extend(["--template-dir", d])
    return shlex.join(words)

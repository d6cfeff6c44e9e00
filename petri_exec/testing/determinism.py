"""Rule ``determinism``: the same answers in fresh processes with other hash seeds.

Python randomises ``hash()`` of strings per process (``PYTHONHASHSEED``), so a scheduler
that picks "the first" element of a set of names answers differently in another process,
though the same twice in one. The check starts one worker process per seed
(``python -m petri_exec.testing._worker``), which imports the factory by its
``'module:attr'`` name, and compares the answers along a deterministic walk (always
firing the returned enabled transition that comes first in net order).
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..core.compile import compile_run, marking_of
from ..errors import UsageError
from ..run.model import Run
from ..run.runfile import dump_run
from ..run.templates import Template
from .rules import ContractViolation

__all__ = ["HashSeedWorkers", "answers_along", "check_determinism", "factory_spec",
           "resolve_factory"]

#: Seconds a worker may take to start or to answer one run.
TIMEOUT = 120.0

#: The scheduler names ``drive()`` accepts, as factories.
_ALIASES = {"petri": "petri_exec:PetriScheduler", "linear": "petri_exec:LinearScheduler"}


def resolve_factory(factory: Any) -> Callable[[Run], Any]:
    """The ``run -> scheduler`` callable for a factory given in any accepted form.

    Args:
        factory: A ``'module:attr'`` string (``attr`` may be dotted), ``"petri"`` or
            ``"linear"`` (as for ``drive()``), a class with a ``for_run(run)``
            classmethod, or any callable taking a run.

    Returns:
        The callable.

    Raises:
        UsageError: The string does not import, or the object is not callable.
    """
    factory = _ALIASES.get(factory, factory) if isinstance(factory, str) else factory
    obj = factory
    if isinstance(factory, str):
        module, sep, attr = factory.partition(":")
        if not sep or not module or not attr:
            raise UsageError(f"scheduler factory {factory!r} is not 'module:attr'; name a "
                             "module-level callable, e.g. 'my_pkg.sched:MyScheduler'")
        try:
            obj = importlib.import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as e:
            raise UsageError(f"scheduler factory {factory!r} cannot be imported "
                             f"({type(e).__name__}: {e}); check the module is on sys.path "
                             "and the attribute exists") from None
    if isinstance(obj, type) and callable(getattr(obj, "for_run", None)):
        fn: Callable[[Run], Any] = obj.for_run  # type: ignore[attr-defined]
        return fn
    if not callable(obj):
        raise UsageError(f"scheduler factory {factory!r} is not callable; pass a callable "
                         "run -> scheduler, a Scheduler class with for_run, or 'module:attr'")
    return obj  # type: ignore[no-any-return]


def factory_spec(factory: Any) -> str | None:
    """The ``'module:attr'`` name a fresh process can import ``factory`` by, or None.

    Strings are returned as they are; module-level functions, classes and classmethods
    get their qualified name, checked to import back to the same object.
    """
    if isinstance(factory, str):
        return _ALIASES.get(factory, factory)
    owner = factory.__self__ if inspect.ismethod(factory) else None
    if isinstance(owner, type):
        spec = f"{owner.__module__}:{owner.__qualname__}.{factory.__name__}"
    else:
        module = getattr(factory, "__module__", None)
        qualname = getattr(factory, "__qualname__", None)
        if not module or not qualname:
            return None
        spec = f"{module}:{qualname}"
    if "<" in spec or spec.startswith("__main__:"):
        return None
    try:
        same = resolve_factory(spec) == resolve_factory(factory)
    except UsageError:
        return None
    return spec if same else None


def answers_along(scheduler: Any, run: Run, template: Template) -> tuple[list[list[str]],
                                                                         list[str]]:
    """``ready()``'s answers (sorted names) along the deterministic walk, and the walk.

    The walk fires, at each marking, the returned non-manual enabled transition first in
    net order, until there is none.
    """
    net = compile_run(run, template=template)
    m = marking_of(run)
    answers: list[list[str]] = []
    path: list[str] = []
    for _ in range(len(net.transitions) + 1):
        names = sorted(getattr(t, "name", repr(t)) for t in scheduler.ready(m))
        answers.append(names)
        fireable = []
        for name in names:
            try:
                t = net.transition(name)
            except LookupError:
                continue
            if not t.manual and net.is_enabled(t, m):
                fireable.append(t)
        if not fireable:
            break
        pick = min(fireable, key=lambda t: t.index)
        m = net.fire(m, pick)
        path.append(pick.name)
    return answers, path


class _Worker:
    def __init__(self, spec: str, seed: int, dirs: Sequence[str]) -> None:
        self.seed = seed
        env = dict(os.environ)
        env["PYTHONHASHSEED"] = str(seed)
        env["PYTHONPATH"] = os.pathsep.join(p or os.getcwd() for p in sys.path)
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "petri_exec.testing._worker", spec, json.dumps(list(dirs))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
            env=env, text=True, encoding="utf-8")
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put("")

    def receive(self) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=TIMEOUT)
        except queue.Empty:
            return {"error": f"no answer within {TIMEOUT:.0f} s"}
        if not line:
            self.proc.wait(timeout=10)
            self.stderr.seek(0)
            tail = self.stderr.read().decode(errors="replace").strip().splitlines()[-3:]
            return {"error": f"the process exited (code {self.proc.returncode})"
                             + (": " + " | ".join(tail) if tail else "")}
        reply: dict[str, Any] = json.loads(line)
        return reply

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()


class HashSeedWorkers:
    """Worker processes, one per hash seed, answering for a factory (a context manager).

    Args:
        spec: The factory's ``'module:attr'`` name.
        seeds: ``PYTHONHASHSEED`` values, one process each.
        template_dirs: Extra template directories.

    Raises:
        UsageError: A worker cannot import the factory (on entering the block).
    """

    def __init__(self, spec: str, seeds: Iterable[int], template_dirs: Iterable[str] = ()
                 ) -> None:
        self.spec = spec
        self.seeds = tuple(seeds)
        self.dirs = tuple(template_dirs)
        self.workers: list[_Worker] = []

    def __enter__(self) -> HashSeedWorkers:
        self.workers = [_Worker(self.spec, s, self.dirs) for s in self.seeds]
        for w in self.workers:
            hello = w.receive()
            if "fatal" in hello or "error" in hello:
                self.__exit__()
                raise UsageError(
                    f"rule 'determinism' runs the factory {self.spec!r} in fresh Python "
                    f"processes, and one could not load it: "
                    f"{hello.get('fatal', hello.get('error'))}. Pass the factory as "
                    "'module:attr' naming a module-level callable importable from sys.path "
                    "(not defined in a function, a lambda or __main__), or skip the rule "
                    "with skip=('determinism',)")
        return self

    def __exit__(self, *exc: object) -> None:
        for w in self.workers:
            w.close()
        self.workers = []

    def ask(self, run: Run) -> list[tuple[int, dict[str, Any]]]:
        """Each worker's reply for ``run``: ``{"answers": [...]}`` or ``{"error": ...}``."""
        message = {"run": dump_run(run).decode()}
        for w in self.workers:
            w.send(message)
        return [(w.seed, w.receive()) for w in self.workers]


def check_determinism(factory: Callable[[Run], Any], run: Run, workers: HashSeedWorkers,
                      template: Template) -> None:
    """Compare this process's answers along the walk with each worker's.

    Raises:
        ContractViolation: Rule ``determinism`` is broken.
    """
    from .drives import build_scheduler

    scheduler = build_scheduler(factory, run, "determinism")
    mine, path = answers_along(scheduler, run, template)
    here = os.environ.get("PYTHONHASHSEED", "random")
    for seed, reply in workers.ask(run):
        if "error" in reply:
            raise ContractViolation(
                "determinism", f"in a fresh process with PYTHONHASHSEED={seed} the factory or "
                f"ready() failed: {reply['error']}", "the scheduler must work the same in "
                "any process", scheduler=scheduler, run=run)
        theirs: list[list[str]] = reply["answers"]
        for i, (a, b) in enumerate(zip(mine, theirs, strict=False)):
            if a != b:
                raise ContractViolation(
                    "determinism", f"ready() returned {a} in this process "
                    f"(PYTHONHASHSEED={here}) but {b} in a fresh process with "
                    f"PYTHONHASHSEED={seed}", "do not depend on the iteration order of sets "
                    "or dicts of strings: order by t.index (net order) or by name",
                    scheduler=scheduler, run=run, marking=_marking_after(run, template, path[:i]),
                    path=path[:i])
        if len(mine) != len(theirs):
            raise ContractViolation(
                "determinism", f"the walk took {len(mine) - 1} firings here but "
                f"{len(theirs) - 1} with PYTHONHASHSEED={seed}", "make ready() a function "
                "of the marking alone", scheduler=scheduler, run=run)


def _marking_after(run: Run, template: Template, path: Sequence[str]) -> Any:
    net = compile_run(run, template=template)
    m = marking_of(run)
    for name in path:
        m = net.fire(m, name)
    return m

"""Net templates: a run lane and a slice lane described as TOML data.

A template never contains code. Steps name a port (a user callable supplied at
drive time), a built-in handler from a fixed registry, both, or neither.
Templates are looked up, in order, in the directories passed explicitly, the
directories listed in ``PETRI_EXEC_TEMPLATE_PATH`` (``os.pathsep``-separated),
and the package's own ``nets/`` (inside an installed wheel, or the checkout's
top-level ``nets/`` for a source or editable install).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import stat
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import attrs

from .._root import CHECKOUT, PACKAGE
from ..errors import TemplateError

__all__ = [
    "positions",
    "BUILTIN_HANDLERS",
    "Lane",
    "Step",
    "Template",
    "load_template",
    "searching",
    "parse_template",
    "template_dirs",
]

#: Names of the built-in handlers a template step may use (see ``petri_exec.ports.handlers``).
BUILTIN_HANDLERS = frozenset({"verify_slices", "export_pnml", "promote"})
#: Built-in handlers that call the step's port (the others take no port).
PORT_HANDLERS = frozenset({"promote"})

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,127}")
_STEP_KEYS = frozenset({"name", "from", "to", "port", "optional_port", "handler", "manual",
                        "retries", "retry_backoff_s", "timeout_s"})
_LANE_KEYS = {
    "run": frozenset({"initial", "frontier", "end", "steps"}),
    "slice": frozenset({"initial", "done", "steps"}),
}
_TOP_KEYS = frozenset({"name", "description", "run", "slice"})


@attrs.frozen
class Step:
    """One step of a lane: a transition template joining two statuses.

    Attributes:
        name: Step name (the run transition's name, or the prefix of ``<step>:<slice_id>``).
        source: Status the step leaves.
        target: Status the step enters.
        port: Name of the port the step calls, or None.
        handler: Name of the built-in handler, or None.
        manual: A human gate: never returned by ``ready()``, fired only by ``fire()``.
        retries: Extra attempts after a failure before the run halts (default 0).
        retry_backoff_s: Seconds before the first retry; doubled for each further one.
        timeout_s: Seconds an attempt may take before it counts as failed, or None.
        optional_port: A port the step calls only when the ports supply it (without it
            the step succeeds with no facts); never set together with ``port``. It is not
            part of the compiled net (the transition's ``port`` stays None).
    """

    name: str
    source: str
    target: str
    port: str | None = None
    handler: str | None = None
    manual: bool = False
    retries: int = 0
    retry_backoff_s: float = 0.0
    timeout_s: float | None = None
    optional_port: str | None = None


@attrs.frozen
class Lane:
    """A linear chain of statuses joined by steps.

    Attributes:
        statuses: Every status in chain order; ``statuses[0]`` is the initial one.
        steps: The steps in chain order; ``steps[i]`` goes ``statuses[i] -> statuses[i+1]``.
        frontier: (run lane) the status while which slices may start, else None.
        end: (run lane) the end of the driven chain; (slice lane) the ``done`` status.
    """

    statuses: tuple[str, ...]
    steps: tuple[Step, ...]
    frontier: str | None
    end: str

    @property
    def initial(self) -> str:
        """The lane's initial status."""
        return self.statuses[0]

    def position(self, status: str) -> int:
        """Index of ``status`` in the chain.

        Raises:
            KeyError: ``status`` is not in this lane.
        """
        return positions(self.statuses)[status]


@lru_cache(maxsize=64)
def positions(statuses: tuple[str, ...]) -> dict[str, int]:
    """Each status's index in a lane's chain (cached per chain).

    Args:
        statuses: A lane's statuses, in order.

    Returns:
        Status -> index. Shared: do not mutate it.
    """
    return {s: i for i, s in enumerate(statuses)}


@attrs.frozen
class Template:
    """A net template: the run lane and the slice lane.

    Attributes:
        name: Template name (``executor``, ``minimal``, …).
        run: The run lane (has ``frontier`` and ``end``).
        slice: The slice lane (``end`` is its ``done`` status).
        description: Free text.
        source: Where the template was read from (for messages).
    """

    name: str
    run: Lane
    slice: Lane
    description: str = ""
    source: str = ""


def template_dirs(extra: Iterable[str | os.PathLike[str]] = ()) -> list[Path]:
    """The directories searched for templates, in lookup order.

    Args:
        extra: Directories to search first.

    Returns:
        Existing and non-existing candidate directories, in order.
    """
    return [Path(d) for d in _search_path(extra)]


_BUILTIN_DIRS = (str(PACKAGE / "nets"),  # installed wheel
                 str(CHECKOUT / "nets"))  # checkout / editable install


#: Directories searched after a lookup's own while the engine calls a ports object's hook
#: for a run loaded with ``template_dirs`` (:func:`searching`): a hook looks the run's
#: template up by name, as the command line's ``--template-dir`` lets it do.
_SEARCHING: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "petri_exec_template_dirs", default=())


@contextlib.contextmanager
def searching(dirs: Iterable[str | os.PathLike[str]]) -> Iterator[None]:
    """Let every template lookup in the block (this thread or task) also search ``dirs``.

    Args:
        dirs: Directories searched after a lookup's own ``dirs``, before
            ``PETRI_EXEC_TEMPLATE_PATH``.

    Yields:
        Nothing.
    """
    token = _SEARCHING.set((*(os.fspath(d) for d in dirs), *_SEARCHING.get()))
    try:
        yield
    finally:
        _SEARCHING.reset(token)


def _search_path(extra: Iterable[str | os.PathLike[str]]) -> list[str]:
    dirs = [os.fspath(d) for d in extra]
    dirs.extend(_SEARCHING.get())
    env = os.environ.get("PETRI_EXEC_TEMPLATE_PATH", "")
    dirs.extend(d for d in env.split(os.pathsep) if d)
    dirs.extend(_BUILTIN_DIRS)
    return dirs


def load_template(name: str, dirs: Iterable[str | os.PathLike[str]] = ()) -> Template:
    """Find and parse the template called ``name``.

    Args:
        name: Template name; the file is ``<name>.toml`` in one of :func:`template_dirs`.
        dirs: Extra directories searched first.

    Returns:
        The parsed template.

    Raises:
        TemplateError: No such template, or the file is invalid.
    """
    if not _NAME.fullmatch(name):
        raise TemplateError(
            f"template name {name!r} is not a plain name (letters, digits, '_', '-', '.'); "
            "name a template file in nets/ without its .toml suffix"
        )
    dirs = tuple(dirs)
    for d in _search_path(dirs):  # one stat per directory until found (no pathlib)
        path = os.path.join(d, name + ".toml")
        try:
            st = os.stat(path)
        except (OSError, ValueError):
            continue
        if stat.S_ISREG(st.st_mode):  # cached parse, reloaded when the file changes
            return _load_file(os.path.abspath(path), st.st_mtime_ns)
    searched = template_dirs(dirs)
    known = sorted({p.stem for d in searched if d.is_dir() for p in d.glob("*.toml")})
    raise TemplateError(
        f"no template {name!r} in {', '.join(str(d) for d in searched if d.is_dir())}; "
        f"known templates: {', '.join(known) or 'none'}; add its directory with "
        "--template-dir DIR (template_dirs=[DIR] in Python) or PETRI_EXEC_TEMPLATE_PATH"
    )


@lru_cache(maxsize=32)
def _load_file(path: str, _mtime: int) -> Template:
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise TemplateError(f"{path}: invalid TOML ({e}); fix the syntax") from None
    except OSError as e:
        raise TemplateError(f"{path}: cannot read template ({e.strerror})") from None
    template = parse_template(data, source=path)
    stem = os.path.splitext(os.path.basename(path))[0]
    if template.name != stem:
        raise TemplateError(
            f"{path}: name: the file declares name {template.name!r} but is called "
            f"{stem!r}.toml; make them equal"
        )
    return template


def parse_template(data: Mapping[str, Any], *, source: str = "<template>") -> Template:
    """Build a :class:`Template` from its TOML document (already parsed).

    Args:
        data: The document.
        source: Where it came from, used in error messages.

    Returns:
        The template.

    Raises:
        TemplateError: A key is unknown or missing, a value has the wrong type, or the
            lanes do not form linear chains.
    """
    _no_unknown(data, _TOP_KEYS, source, "")
    name = _str(data, "name", source, "")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise TemplateError(f"{source}: description: must be a string")
    run = _lane(data, "run", source)
    slc = _lane(data, "slice", source)
    run_names = {s.name for s in run.steps}
    for s in slc.steps:
        if s.name in run_names:
            raise TemplateError(
                f"{source}: slice.steps: step name {s.name!r} is also a run step; "
                "give slice steps their own names"
            )
        if s.manual:
            raise TemplateError(
                f"{source}: slice.steps: step {s.name!r} is manual; only run steps may be "
                "manual gates"
            )
    return Template(name=name, run=run, slice=slc, description=description, source=source)


def _lane(data: Mapping[str, Any], key: str, source: str) -> Lane:
    raw = data.get(key)
    if not isinstance(raw, Mapping):
        raise TemplateError(f"{source}: [{key}]: missing table; declare the {key} lane")
    _no_unknown(raw, _LANE_KEYS[key], source, key)
    initial = _str(raw, "initial", source, key)
    steps_raw = raw.get("steps")
    if not isinstance(steps_raw, Sequence) or isinstance(steps_raw, str) or not steps_raw:
        raise TemplateError(
            f"{source}: {key}.steps: must be a non-empty array of tables ([[{key}.steps]])"
        )
    statuses = [initial]
    steps: list[Step] = []
    for i, raw_step in enumerate(steps_raw):
        where = f"{key}.steps[{i}]"
        if not isinstance(raw_step, Mapping):
            raise TemplateError(f"{source}: {where}: must be a table")
        _no_unknown(raw_step, _STEP_KEYS, source, where)
        step = Step(
            name=_str(raw_step, "name", source, where),
            source=_str(raw_step, "from", source, where),
            target=_str(raw_step, "to", source, where),
            port=_opt_str(raw_step, "port", source, where),
            handler=_opt_str(raw_step, "handler", source, where),
            manual=_bool(raw_step, "manual", source, where),
            retries=int(_number(raw_step, "retries", source, where, 0, integer=True)),
            retry_backoff_s=_number(raw_step, "retry_backoff_s", source, where, 0.0),
            timeout_s=(_number(raw_step, "timeout_s", source, where, 0.0, positive=True)
                       if "timeout_s" in raw_step else None),
            optional_port=_opt_str(raw_step, "optional_port", source, where),
        )
        if step.port is not None and step.optional_port is not None:
            raise TemplateError(
                f"{source}: {where}.optional_port: the step also names port {step.port!r}; "
                "keep one of port (required) and optional_port (called only when supplied)"
            )
        if step.source != statuses[-1]:
            raise TemplateError(
                f"{source}: {where}.from: {step.source!r} does not continue the chain at "
                f"{statuses[-1]!r}; lanes are linear: list steps in order, each leaving the "
                "status the previous one entered"
            )
        if step.target in statuses:
            raise TemplateError(
                f"{source}: {where}.to: status {step.target!r} already appears in the lane; "
                "lanes are linear chains without loops"
            )
        if step.handler is not None and step.handler not in BUILTIN_HANDLERS:
            raise TemplateError(
                f"{source}: {where}.handler: unknown handler {step.handler!r}; built-in "
                f"handlers are {', '.join(sorted(BUILTIN_HANDLERS))}"
            )
        either = step.port or step.optional_port
        if step.handler is not None and either is not None \
                and step.handler not in PORT_HANDLERS:
            key = "port" if step.port is not None else "optional_port"
            raise TemplateError(
                f"{source}: {where}.{key}: handler {step.handler!r} never calls a port; remove "
                f"the port or use a handler that calls one ({', '.join(sorted(PORT_HANDLERS))})"
            )
        if any(s.name == step.name for s in steps):
            raise TemplateError(f"{source}: {where}.name: duplicate step {step.name!r}")
        statuses.append(step.target)
        steps.append(step)
    if key == "run":
        frontier = _str(raw, "frontier", source, key)
        end = _str(raw, "end", source, key) if "end" in raw else statuses[-1]
        for field, value in (("frontier", frontier), ("end", end)):
            if value not in statuses:
                raise TemplateError(
                    f"{source}: run.{field}: {value!r} is not a status of the run lane "
                    f"({', '.join(statuses)})"
                )
        if statuses.index(frontier) >= statuses.index(end):
            raise TemplateError(
                f"{source}: run.frontier: {frontier!r} must come before run.end {end!r}, so "
                "that a step leaves the frontier once every slice is done"
            )
        return Lane(tuple(statuses), tuple(steps), frontier, end)
    done = _str(raw, "done", source, key)
    if done == initial:
        raise TemplateError(
            f"{source}: slice.done: {done!r} is the initial status; done must be reached by "
            "at least one step"
        )
    if done not in statuses:
        raise TemplateError(
            f"{source}: slice.done: {done!r} is not a status of the slice lane "
            f"({', '.join(statuses)})"
        )
    return Lane(tuple(statuses), tuple(steps), None, done)


def _no_unknown(raw: Mapping[str, Any], allowed: frozenset[str], source: str, where: str) -> None:
    for k in raw:
        if k not in allowed:
            raise TemplateError(
                f"{source}: {where + '.' if where else ''}{k}: unknown key; "
                f"allowed keys are {', '.join(sorted(allowed))}"
            )


def _str(raw: Mapping[str, Any], key: str, source: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise TemplateError(
            f"{source}: {where + '.' if where else ''}{key}: expected a name (letters, digits, "
            f"'_', '-', '.'), got {value!r}"
        )
    return value


def _opt_str(raw: Mapping[str, Any], key: str, source: str, where: str) -> str | None:
    return None if key not in raw else _str(raw, key, source, where)


def _bool(raw: Mapping[str, Any], key: str, source: str, where: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise TemplateError(f"{source}: {where}.{key}: expected true or false, got {value!r}")
    return value


def _number(raw: Mapping[str, Any], key: str, source: str, where: str, default: float, *,
            integer: bool = False, positive: bool = False) -> float:
    value = raw.get(key, default)
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok or value < 0 or (positive and value == 0):
        kind = "integer" if integer else "number"
        bound = "a positive" if positive else "a non-negative"
        raise TemplateError(f"{source}: {where}.{key}: expected {bound} {kind}, got {value!r}")
    return float(value)

"""The rules of run.json, checked on values: ids, statuses, references, cycles, and
statuses consistent with dependencies and the frontier. Shared by files and in-memory runs.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from typing import Any

from .._gc import gc_paused
from ..errors import RunFileError, TemplateError
from .model import Epic, Run, Slice, dependencies
from .templates import Template, load_template

__all__ = ["check_run", "is_identity", "validate_checked", "validate_run"]

_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_IDENTITY = re.compile(r"[0-9a-f]{32}")


def is_identity(value: object) -> bool:
    """Whether ``value`` is a run identity: 32 lowercase hex digits (``uuid4().hex``).

    Args:
        value: Anything.

    Returns:
        True for a well-formed identity.
    """
    return type(value) is str and _IDENTITY.fullmatch(value) is not None


class _Ctx:
    """Where we are: the file name for messages."""

    def __init__(self, file: str | None) -> None:
        self.file = file

    def fail(self, path: str, message: str) -> RunFileError:
        return RunFileError(message, file=self.file, json_path=path)


def validate_run(run: Run, *, template: Template | None = None) -> Run:
    """Validate an in-memory run with the same rules :func:`load_run` applies to a file.

    Args:
        run: The run.
        template: Its template (looked up by name when None).

    Returns:
        ``run`` itself (already normal: defaults are filled in by the constructors).

    Raises:
        RunFileError: A rule of the format is broken (the message names the JSON path the
            value would have in run.json).
    """
    if template is None:
        try:
            template = load_template(run.template)
        except TemplateError as e:
            raise RunFileError(str(e), json_path="template") from None
    validate_checked(run, template)
    return run


def validate_checked(run: Run, template: Template) -> list[tuple[int, ...]]:
    """:func:`validate_run` that returns each slice's dependencies.

    Raises:
        RunFileError: As :func:`validate_run`.
    """
    with gc_paused():
        return _validate(run, template)


def _validate(run: Run, template: Template) -> list[tuple[int, ...]]:
    deps = _fast_check(run, template)
    return deps if deps is not None else _validate_rules(run, template)


def _validate_rules(run: Run, template: Template) -> list[tuple[int, ...]]:
    c = _Ctx(None)
    if run.version != 1 or isinstance(run.version, bool):
        raise c.fail("version", f"unsupported version {_json(run.version)}; only 1 is known")
    if not isinstance(run.run_id, str) or not run.run_id:
        raise c.fail("run_id", f"expected a non-empty string, got {_kind(run.run_id)}")
    if run.abandoned is not None and (not isinstance(run.abandoned, str) or not run.abandoned):
        raise c.fail("abandoned", "expected the reason (a non-empty string) or None")
    if run.identity is not None and not is_identity(run.identity):
        raise c.fail("identity", "expected 32 lowercase hex digits or None")
    _free_form(c, run.facts, run.meta, "")
    for i, e in enumerate(run.epics):
        if not isinstance(e, Epic):
            raise c.fail(f"epics[{i}]", f"expected an Epic, got {type(e).__name__}")
        _str_list(c, e.depends_on, f"epics[{i}]")
    for i, s in enumerate(run.slices):
        p = f"slices[{i}]"
        if not isinstance(s, Slice):
            raise c.fail(p, f"expected a Slice, got {type(s).__name__}")
        if not (s.title is None or isinstance(s.title, str)):
            raise c.fail(f"{p}.title", f"expected a string, got {_kind(s.title)}")
        if not (s.epic is None or isinstance(s.epic, str)):
            raise c.fail(f"{p}.epic", f"expected an epic id (string), got {_kind(s.epic)}")
        _str_list(c, s.depends_on, p)
        _free_form(c, s.facts, s.meta, p)
    return check_run(run, template)


_IDS = re.compile(r"(?:[A-Za-z0-9_.-]{1,128}\n)*")
_STR_OR_NONE = frozenset({str, type(None)})
_DICT_OR_NONE = frozenset({dict, type(None)})


def _fast_check(run: Run, template: Template) -> list[tuple[int, ...]] | None:
    """Every rule at once with whole-run operations, for the common run without epics
    whose slices are in dependency order: the dependencies when all rules hold, None
    when anything is unusual (then the rule-by-rule checks run and name what is wrong).
    """
    if run.epics or run.version != 1 or type(run.version) is not int:
        return None
    if type(run.run_id) is not str or not run.run_id or type(run.facts) is not dict:
        return None
    if type(run.meta) not in _DICT_OR_NONE or type(run.abandoned) not in _STR_OR_NONE:
        return None
    if run.identity is not None and not is_identity(run.identity):
        return None
    if run.abandoned == "" or type(run.status) is not str or (
            run.status not in template.run.statuses):
        return None
    slices = run.slices
    if not all(type(s) is Slice for s in slices):
        return None
    ids = [s.id for s in slices]
    if not all(type(v) is str for v in ids):
        return None
    joined = "\n".join(ids) + "\n" if ids else ""
    # one regex over all ids; the newline count catches an id with a newline inside
    if not _IDS.fullmatch(joined) or joined.count("\n") != len(ids):
        return None
    index = {v: i for i, v in enumerate(ids)}
    if len(index) != len(ids):
        return None
    if not {type(s.title) for s in slices} <= _STR_OR_NONE or any(
            s.epic is not None for s in slices):
        return None
    if not {type(s.facts) for s in slices} <= {dict} or not {
            type(s.meta) for s in slices} <= _DICT_OR_NONE:
        return None
    if not all(type(s.status) is str for s in slices):
        return None
    statuses = {s.status for s in slices}
    if not statuses <= set(template.slice.statuses):
        return None
    if not {type(d) for s in slices for d in s.depends_on} <= {str}:
        return None  # (str-like objects that hash and compare as their text included)
    deps: list[tuple[int, ...]] = []
    get = index.__getitem__
    append = deps.append
    try:
        for i, s in enumerate(slices):
            on = s.depends_on
            if not on:
                append(())
            elif len(on) == 1:
                d = get(on[0])
                if d >= i:  # itself or a later slice: maybe a cycle
                    return None
                append((d,))
            else:
                ds = sorted(map(get, on))
                if ds[-1] >= i or len(ds) != len(set(ds)):
                    return None
                append(tuple(ds))
    except (KeyError, TypeError):  # an unknown id, a non-string, an unhashable value
        return None
    slane, rlane = template.slice, template.run
    done, initial = slane.end, slane.initial
    rpos = rlane.position(run.status)
    fpos = rlane.position(rlane.frontier or rlane.initial)
    if rpos > fpos:  # past the frontier: every slice is done
        return deps if statuses <= {done} else None
    if statuses <= {initial}:
        return deps
    if rpos < fpos:
        return None
    for i, s in enumerate(slices):
        if s.status != initial and any(slices[d].status != done for d in deps[i]):
            return None
    return deps


def _str_list(c: _Ctx, items: tuple[str, ...], path: str) -> None:
    for j, d in enumerate(items):
        if not isinstance(d, str):
            raise c.fail(f"{path}.depends_on[{j}]", f"expected an id (string), got {_kind(d)}")


def _free_form(c: _Ctx, facts: Any, meta: Any, path: str) -> None:
    if not isinstance(facts, Mapping):
        raise c.fail(_join(path, "facts"), f"expected a JSON object, got {_kind(facts)}")
    if meta is not None and not isinstance(meta, Mapping):
        raise c.fail(_join(path, "meta"), f"expected a JSON object, got {_kind(meta)}")


def check_run(run: Run, template: Template, *, file: str | None = None
              ) -> list[tuple[int, ...]]:
    """The semantic rules of run.json on a structurally sound :class:`Run`: ids, statuses,
    references, cycles, and statuses consistent with dependencies and the frontier.

    Args:
        run: The run.
        template: Its template.
        file: The file it came from, for messages.

    Returns:
        Every slice's effective dependencies (as :func:`petri_exec.run.model.dependencies`).

    Raises:
        RunFileError: A rule is broken.
    """
    deps = _fast_check(run, template)
    return deps if deps is not None else _check_rules(run, template, file)


def _check_rules(run: Run, template: Template, file: str | None) -> list[tuple[int, ...]]:
    c = _Ctx(file)
    _status(c, "status", run.status, template.run.statuses, "run")
    epic_ids = _unique_ids(c, [e.id for e in run.epics], "epic")
    for i, e in enumerate(run.epics):
        _no_repeats(c, e.depends_on, f"epics[{i}]")
    for i, e in enumerate(run.epics):
        for j, d in enumerate(e.depends_on):
            if d not in epic_ids:
                raise c.fail(f"epics[{i}].depends_on[{j}]", _unknown("epic", d, epic_ids))
    cycle = _find_cycle([[epic_ids[d] for d in ep.depends_on] for ep in run.epics])
    if cycle:
        names = " -> ".join(run.epics[k].id for k in cycle)
        raise c.fail(f"epics[{cycle[0]}].depends_on", f"epic dependency cycle {names}; "
                     "remove one of these dependencies")
    slice_ids = _unique_ids(c, [s.id for s in run.slices], "slice")
    statuses = template.slice.statuses
    for i, s in enumerate(run.slices):
        if s.epic is not None and s.epic not in epic_ids:
            raise c.fail(f"slices[{i}].epic", _unknown("epic", s.epic, epic_ids))
        if s.status not in statuses:
            _status(c, f"slices[{i}].status", s.status, statuses, "slice")
        if s.depends_on:
            _no_repeats(c, s.depends_on, f"slices[{i}]")
    for i, s in enumerate(run.slices):
        for j, d in enumerate(s.depends_on):
            if d not in slice_ids:
                raise c.fail(f"slices[{i}].depends_on[{j}]", _unknown("slice", d, slice_ids))
            if d == s.id:
                raise c.fail(f"slices[{i}].depends_on[{j}]",
                             f"slice {d!r} depends on itself; remove it")
    return _check_graph(c, run, template)


def _unique_ids(c: _Ctx, ids: list[str], what: str) -> dict[str, int]:
    """Check ``ids`` (of ``epics`` or ``slices``) are valid and distinct; id -> index."""
    seen: dict[str, int] = {}
    for i, v in enumerate(ids):
        path = f"{what}s[{i}].id"
        _valid_id(c, v, path)
        if v in seen:
            raise c.fail(path, f"duplicate {what} id {v!r} (also {what}s[{seen[v]}])")
        seen[v] = i
    return seen


def _valid_id(c: _Ctx, v: str, path: str) -> None:
    if not isinstance(v, str):
        raise c.fail(path, f"expected a non-empty string, got {_kind(v)}")
    if not _ID.fullmatch(v):
        raise c.fail(path, f"invalid id {v[:40]!r}: use 1-128 letters, digits, '_', '-' or '.'")


def _no_repeats(c: _Ctx, items: tuple[str, ...], path: str) -> None:
    if len(set(items)) == len(items):
        return
    seen: set[str] = set()
    for j, d in enumerate(items):
        if d in seen:
            raise c.fail(f"{path}.depends_on[{j}]", f"{d!r} is listed twice; remove one")
        seen.add(d)


def _check_graph(c: _Ctx, run: Run, template: Template) -> list[tuple[int, ...]]:
    deps = dependencies(run)
    cycle = _find_cycle([list(d) for d in deps])
    if cycle:
        names = " -> ".join(run.slices[k].id for k in cycle)
        raise c.fail(f"slices[{cycle[0]}].depends_on",
                     f"dependency cycle {names}; remove one of these dependencies")
    slane, rlane = template.slice, template.run
    initial, done = slane.initial, slane.end
    rpos = rlane.position(run.status)
    fpos = rlane.position(rlane.frontier or rlane.initial)
    for i, s in enumerate(run.slices):
        if s.status == initial:
            continue
        if rpos < fpos:
            raise c.fail(f"slices[{i}].status",
                         f"slice {s.id!r} is {s.status!r} but the run is still {run.status!r}, "
                         f"before {rlane.frontier!r} where slices may start; reset the slice "
                         f"to {initial!r} or advance the run")
        for d in deps[i]:
            if run.slices[d].status != done:
                raise c.fail(f"slices[{i}].status",
                             f"slice {s.id!r} is {s.status!r} but its dependency "
                             f"{run.slices[d].id!r} is {run.slices[d].status!r}, not {done!r}; "
                             f"reset {s.id!r} to {initial!r} or complete {run.slices[d].id!r}")
    if rpos > fpos:
        for i, s in enumerate(run.slices):
            if s.status != done:
                raise c.fail(f"slices[{i}].status",
                             f"the run is {run.status!r}, past {rlane.frontier!r}, but slice "
                             f"{s.id!r} is {s.status!r}, not {done!r}; complete the slice or "
                             "move the run back")
    return deps


def _find_cycle(edges: list[list[int]]) -> list[int] | None:
    """A cycle as a closed path ``[a, b, ..., a]`` (a depends on b ...), or None."""
    n = len(edges)
    color = [0] * n  # 0 new, 1 on stack, 2 done
    for root in range(n):
        if color[root]:
            continue
        stack: list[tuple[int, int]] = [(root, 0)]
        path = [root]
        color[root] = 1
        while stack:
            node, k = stack[-1]
            if k < len(edges[node]):
                stack[-1] = (node, k + 1)
                nxt = edges[node][k]
                if color[nxt] == 1:
                    return [*path[path.index(nxt):], nxt]
                if color[nxt] == 0:
                    color[nxt] = 1
                    stack.append((nxt, 0))
                    path.append(nxt)
            else:
                color[node] = 2
                stack.pop()
                path.pop()
    return None


def _json(v: Any) -> str:
    """A value for messages: strings as ``'x'`` like every message, others as JSON."""
    if isinstance(v, str):
        return repr(v) if len(v) <= 60 else repr(v[:57] + "...")
    try:
        text = json.dumps(v, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    return "an object"


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _join(path: str, key: str) -> str:
    if not _PLAIN_KEY.fullmatch(key):
        return f"{path}[{json.dumps(key)}]"  # odd keys quoted (and escaped) as JSON
    return f"{path}.{key}" if path else key


def _status(c: _Ctx, path: str, v: Any, statuses: tuple[str, ...], lane: str) -> None:
    if not isinstance(v, str) or v not in statuses:
        close = difflib.get_close_matches(str(v), statuses, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise c.fail(path, f"{_json(v)} is not a status of the template's {lane} lane; {hint}"
                     f"use one of {', '.join(statuses)}")


def _unknown(what: str, name: str, known: Mapping[str, int]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; declare the {what} or remove it"
    return f"unknown {what} {name!r}{hint}"

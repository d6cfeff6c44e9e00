"""run.json: loading with full validation, and deterministic, atomic saving.

Every refusal is a :class:`~petri_exec.errors.RunFileError` whose one-line message
names the file, the JSON path of the offending value and what to do.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .compile import gc_paused
from .errors import RunFileError, TemplateError
from .model import Epic, Run, Slice, dependencies
from .templates import Template, load_template

__all__ = [
    "dump_run",
    "run_schema",
    "load_run",
    "parse_run",
    "run_to_json",
    "save_run",
    "validate_run",
    "write_atomic",
]

_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_RUN_KEYS = ("version", "run_id", "template", "status", "abandoned", "facts", "meta", "epics",
             "slices")
_SLICE_KEYS = ("id", "title", "epic", "depends_on", "status", "facts", "meta")
_EPIC_KEYS = ("id", "depends_on")


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class _StrictJSONError(ValueError):
    """JSON that Python's decoder accepts but the format refuses."""


def _no_constant(name: str) -> Any:
    raise _StrictJSONError(f"{name} is not valid JSON; use a number, a string or null")


class _Duplicated(dict[str, Any]):
    """An object that had a duplicate key (found after parsing, to name its JSON path)."""

    key = ""


def _duplicate_hook() -> tuple[Any, list[bool]]:
    """An ``object_pairs_hook`` marking objects with duplicate keys, and its 'seen' flag."""
    seen_any: list[bool] = []

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        d = dict(pairs)
        if len(d) == len(pairs):
            return d
        seen: set[str] = set()
        marked = _Duplicated(d)
        for k, _ in pairs:
            if k in seen:
                marked.key = k
                break
            seen.add(k)
        seen_any.append(True)
        return marked

    return hook, seen_any


def _find_duplicate(data: Any, path: str = "") -> tuple[str, str] | None:
    """``(json path, key)`` of the first object that had a duplicate key."""
    if isinstance(data, _Duplicated):
        return _join(path, data.key), data.key
    items: Iterable[tuple[str, Any]]
    if isinstance(data, dict):
        items = ((_join(path, k), v) for k, v in data.items())
    elif isinstance(data, list):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(data))
    else:
        return None
    for sub_path, value in items:
        found = _find_duplicate(value, sub_path)
        if found:
            return found
    return None


class _Ctx:
    """Where we are: the file name for messages."""

    def __init__(self, file: str | None) -> None:
        self.file = file

    def fail(self, path: str, message: str) -> RunFileError:
        return RunFileError(message, file=self.file, json_path=path)


def load_run(
    path: str | os.PathLike[str], *, template_dirs: Iterable[str | os.PathLike[str]] = ()
) -> Run:
    """Read and validate a run: run.json plus the journal's firings after its last checkpoint.

    Args:
        path: The run.json file (its journal ``<stem>.events.jsonl`` is read if present).
        template_dirs: Extra directories to look up the run's template in.

    Returns:
        The validated, durable run, with every default filled in.

    Raises:
        RunFileError: The file is unreadable, not JSON, or breaks a rule of the format.
        JournalError: The journal is damaged or contradicts run.json.
    """
    from .durable import load_durable  # the journal layer builds on this module

    return load_durable(path, template_dirs=template_dirs).run


def load_checked(
    path: str | os.PathLike[str], *, template_dirs: Iterable[str | os.PathLike[str]] = ()
) -> tuple[Run, Template, list[tuple[int, ...]]]:
    """Read run.json alone (the checkpoint, without the journal), with its template and
    each slice's dependencies.

    Raises:
        RunFileError: As :func:`load_run`.
    """
    file = os.fspath(path)
    try:
        raw = Path(file).read_bytes()
    except OSError as e:
        raise RunFileError(f"cannot read run file ({e.strerror})", file=file) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RunFileError(
            f"not UTF-8 (byte {e.start}); save the file as UTF-8", file=file
        ) from None
    try:
        hook, duplicated = _duplicate_hook()
        data = json.loads(text, parse_constant=_no_constant, object_pairs_hook=hook)
        if _SURROGATE_ESCAPE.search(text):
            json.dumps(data, ensure_ascii=False).encode("utf-8")
    except _StrictJSONError as e:
        raise RunFileError(f"{e}", file=file) from None
    except UnicodeEncodeError:
        raise RunFileError("a string holds a lone surrogate escape (like \\ud800), which is "
                           "not valid Unicode; fix or remove that string", file=file) from None
    except json.JSONDecodeError as e:
        raise RunFileError(
            f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}; fix the syntax",
            file=file,
        ) from None
    except RecursionError:
        raise RunFileError("JSON nested too deeply", file=file) from None
    except ValueError as e:  # e.g. an integer with more digits than Python converts
        raise RunFileError(f"a JSON value cannot be read ({e}); shorten or quote it",
                           file=file) from None
    if duplicated and (dup := _find_duplicate(data)) is not None:
        raise RunFileError(f"key {dup[1]!r} appears twice in one JSON object; keep one (a "
                           "duplicate key would silently drop data)", file=file, json_path=dup[0])
    return parse_checked(data, file=file, template_dirs=template_dirs)


def parse_run(
    data: Any,
    *,
    file: str | None = None,
    template_dirs: Iterable[str | os.PathLike[str]] = (),
    template: Template | None = None,
) -> Run:
    """Validate a parsed run.json document and build the :class:`Run`.

    Args:
        data: The JSON document (``json.loads`` output).
        file: The file it came from, for messages.
        template_dirs: Extra template directories.
        template: Use this template instead of looking up ``data["template"]``.

    Returns:
        The validated run.

    Raises:
        RunFileError: Any rule of the format is broken.
    """
    return parse_checked(data, file=file, template_dirs=template_dirs, template=template)[0]


def parse_checked(
    data: Any,
    *,
    file: str | None = None,
    template_dirs: Iterable[str | os.PathLike[str]] = (),
    template: Template | None = None,
) -> tuple[Run, Template, list[tuple[int, ...]]]:
    """:func:`parse_run` that also returns the template and each slice's dependencies.

    Raises:
        RunFileError: As :func:`parse_run`.
    """
    with gc_paused():
        return _parse(data, file, template_dirs, template)


def _parse(
    data: Any,
    file: str | None,
    template_dirs: Iterable[str | os.PathLike[str]],
    template: Template | None,
) -> tuple[Run, Template, list[tuple[int, ...]]]:
    c = _Ctx(file)
    if not isinstance(data, dict):
        raise c.fail("", f"the document must be a JSON object, got {_kind(data)}")
    _keys(c, data, _RUN_KEYS, "", "run")
    if "version" not in data:
        raise c.fail("version", 'missing; add "version": 1')
    if data["version"] != 1 or isinstance(data["version"], bool):
        raise c.fail("version", f"unsupported version {_json(data['version'])}; only 1 is known")
    run_id = _req_str(c, data, "run_id", "")
    tname = data.get("template", "executor")
    if not isinstance(tname, str):
        raise c.fail("template", f"expected a template name (string), got {_kind(tname)}")
    if template is None:
        try:
            template = load_template(tname, template_dirs)
        except TemplateError as e:
            raise c.fail("template", str(e)) from None
    run_lane, slice_lane = template.run, template.slice
    status = data.get("status", run_lane.initial)
    _status(c, "status", status, run_lane.statuses, "run")
    facts = _obj(c, data, "facts", "") or {}
    meta = _obj(c, data, "meta", "")
    abandoned = data.get("abandoned")
    if abandoned is not None and (not isinstance(abandoned, str) or not abandoned):
        raise c.fail("abandoned", f"expected the reason the run was abandoned (a non-empty "
                     f"string), got {_json(abandoned)}; remove the key to un-abandon the run")
    epics_raw = _arr(c, data, "epics", "", required=False)
    slices_raw = _arr(c, data, "slices", "", required=True)

    epics: list[Epic] = []
    for i, raw_epic in enumerate(epics_raw):
        p = f"epics[{i}]"
        if not isinstance(raw_epic, dict):
            raise c.fail(p, f"an epic must be an object, got {_kind(raw_epic)}")
        _keys(c, raw_epic, _EPIC_KEYS, p, "epic")
        epics.append(Epic(_req_str(c, raw_epic, "id", p), _id_list(c, raw_epic, p)))

    slices: list[Slice] = []
    for i, s in enumerate(slices_raw):
        p = f"slices[{i}]"
        if not isinstance(s, dict):
            raise c.fail(p, f"a slice must be an object, got {_kind(s)}")
        _keys(c, s, _SLICE_KEYS, p, "slice")
        sid = _req_str(c, s, "id", p)
        title = s.get("title")
        if title is not None and not isinstance(title, str):
            raise c.fail(f"{p}.title", f"expected a string, got {_kind(title)}")
        epic_id = s.get("epic")
        if epic_id is not None and not isinstance(epic_id, str):
            raise c.fail(f"{p}.epic", f"expected an epic id (string), got {_kind(epic_id)}")
        slices.append(
            Slice(
                id=sid,
                status=s.get("status", slice_lane.initial),
                depends_on=_id_list(c, s, p),
                title=title,
                epic=epic_id,
                facts=_obj(c, s, "facts", p) or {},
                meta=_obj(c, s, "meta", p),
            )
        )
    run = Run(run_id=run_id, slices=tuple(slices), template=tname, status=status,
              facts=facts, epics=tuple(epics), meta=meta, abandoned=abandoned)
    return run, template, check_run(run, template, file=file)


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
    c = _Ctx(None)
    if run.version != 1 or isinstance(run.version, bool):
        raise c.fail("version", f"unsupported version {_json(run.version)}; only 1 is known")
    if not isinstance(run.run_id, str) or not run.run_id:
        raise c.fail("run_id", f"expected a non-empty string, got {_kind(run.run_id)}")
    if run.abandoned is not None and (not isinstance(run.abandoned, str) or not run.abandoned):
        raise c.fail("abandoned", "expected the reason (a non-empty string) or None")
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
        Every slice's effective dependencies (as :func:`petri_exec.model.dependencies`).

    Raises:
        RunFileError: A rule is broken.
    """
    c = _Ctx(file)
    _status(c, "status", run.status, template.run.statuses, "run")
    epic_ids: dict[str, int] = {}
    for i, e in enumerate(run.epics):
        _valid_id(c, e.id, f"epics[{i}].id")
        if e.id in epic_ids:
            raise c.fail(f"epics[{i}].id",
                         f"duplicate epic id {e.id!r} (also epics[{epic_ids[e.id]}])")
        epic_ids[e.id] = i
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
    slice_ids: dict[str, int] = {}
    statuses = template.slice.statuses
    for i, s in enumerate(run.slices):
        _valid_id(c, s.id, f"slices[{i}].id")
        if s.id in slice_ids:
            raise c.fail(f"slices[{i}].id",
                         f"duplicate slice id {s.id!r} (also slices[{slice_ids[s.id]}])")
        slice_ids[s.id] = i
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


def _keys(c: _Ctx, obj: Mapping[str, Any], allowed: tuple[str, ...], path: str, what: str) -> None:
    for k in obj:
        if k not in allowed:
            close = difflib.get_close_matches(k, allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            article = "an" if what[0] in "aeiou" else "a"
            meta = ' (put free-form data under "meta")' if "meta" in allowed else ""
            raise c.fail(_join(path, k), f"unknown key in {article} {what}; {hint}allowed keys "
                         f"are {', '.join(allowed)}{meta}")


def _req_str(c: _Ctx, obj: Mapping[str, Any], key: str, path: str) -> str:
    if key not in obj:
        raise c.fail(_join(path, key), "missing; it is required")
    v = obj[key]
    if not isinstance(v, str):
        raise c.fail(_join(path, key), f"expected a non-empty string, got {_kind(v)}")
    if not v:
        raise c.fail(_join(path, key), "expected a non-empty string, got an empty one")
    return v


def _id_list(c: _Ctx, obj: Mapping[str, Any], path: str) -> tuple[str, ...]:
    raw = obj.get("depends_on", [])
    if not isinstance(raw, list):
        raise c.fail(f"{path}.depends_on", f"expected an array of ids, got {_kind(raw)}")
    for j, d in enumerate(raw):
        if not isinstance(d, str):
            raise c.fail(f"{path}.depends_on[{j}]", f"expected an id (string), got {_kind(d)}")
    return tuple(raw)


#: How deeply ``facts`` and ``meta`` may nest (writing them back must never hit Python's
#: recursion limit).
MAX_NESTING = 64


def _obj(c: _Ctx, obj: Mapping[str, Any], key: str, path: str) -> dict[str, Any] | None:
    v = obj.get(key)
    if v is None:
        return None
    if not isinstance(v, dict):
        raise c.fail(_join(path, key), f"expected a JSON object, got {_kind(v)}")
    if v and not _shallow(v):
        raise c.fail(_join(path, key), f"nested more than {MAX_NESTING} levels deep; "
                     "flatten it (or store it in a file and record the file's name)")
    return v


def _shallow(value: Any) -> bool:
    """Whether ``value`` nests at most :data:`MAX_NESTING` containers deep (iterative)."""
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if depth > MAX_NESTING:
            return False
        children = v.values() if isinstance(v, dict) else v
        stack.extend((x, depth + 1) for x in children if isinstance(x, (dict, list)))
    return True


def _arr(c: _Ctx, obj: Mapping[str, Any], key: str, path: str, *, required: bool) -> list[Any]:
    if key not in obj:
        if required:
            raise c.fail(_join(path, key), f'missing; add "{key}": [] (it may be empty)')
        return []
    v = obj[key]
    if not isinstance(v, list):
        raise c.fail(_join(path, key), f"expected an array, got {_kind(v)}")
    return v


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


def run_to_json(run: Run) -> dict[str, Any]:
    """The run as a JSON document in canonical key order (defaults written out).

    Args:
        run: The run.

    Returns:
        A dict ready for ``json.dumps``.
    """
    doc: dict[str, Any] = {
        "version": run.version,
        "run_id": run.run_id,
        "template": run.template,
        "status": run.status,
    }
    if run.abandoned is not None:
        doc["abandoned"] = run.abandoned
    doc["facts"] = dict(run.facts)
    if run.meta is not None:
        doc["meta"] = dict(run.meta)
    if run.epics:
        doc["epics"] = [{"id": e.id, "depends_on": list(e.depends_on)} for e in run.epics]
    doc["slices"] = [_slice_json(s) for s in run.slices]
    return doc


def _slice_json(s: Slice) -> dict[str, Any]:
    d: dict[str, Any] = {"id": s.id}
    if s.title is not None:
        d["title"] = s.title
    if s.epic is not None:
        d["epic"] = s.epic
    d["depends_on"] = list(s.depends_on)
    d["status"] = s.status
    d["facts"] = dict(s.facts)
    if s.meta is not None:
        d["meta"] = dict(s.meta)
    return d


def dump_run(run: Run) -> bytes:
    """The exact bytes :func:`save_run` writes: canonical order, sorted facts and meta keys,
    two-space indent, UTF-8, trailing newline, no timestamps.

    Args:
        run: The run.

    Returns:
        The file's bytes.
    """
    doc = run_to_json(run)
    _sort_free_form(doc)
    for s in doc["slices"]:
        _sort_free_form(s)
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _sort_free_form(d: dict[str, Any]) -> None:
    for k in ("facts", "meta"):
        if k in d:
            d[k] = _sorted(d[k])


def _sorted(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _sorted(v[k]) for k in sorted(v)}
    if isinstance(v, list):
        return [_sorted(x) for x in v]
    return v


def save_run(run: Run, path: str | os.PathLike[str]) -> None:
    """Write ``run`` to ``path`` deterministically and atomically.

    Args:
        run: The run.
        path: Destination file.

    Raises:
        OSError: The directory is not writable; the old file is then untouched.
    """
    write_atomic(path, dump_run(run))


def _file_mode(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` by ``data`` atomically: temp file, fsync, rename, fsync the directory.

    A reader sees either the old or the new content, never a torn file.

    Args:
        path: Destination file.
        data: New content.

    Raises:
        OSError: Writing failed; the old file is untouched and no temp file is left.
    """
    target = Path(os.path.realpath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), _file_mode(target))
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    try:
        dfd = os.open(target.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def run_schema() -> dict[str, Any]:
    """The JSON Schema of run.json version 1 (``docs/run.schema.json``, shipped in the wheel).

    Returns:
        The schema as a dict.

    Raises:
        FileNotFoundError: Neither the packaged nor the checkout copy exists.
    """
    here = Path(__file__).resolve().parent
    for candidate in (here / "run.schema.json", here.parent / "docs" / "run.schema.json"):
        if candidate.is_file():
            schema: dict[str, Any] = json.loads(candidate.read_text("utf-8"))
            return schema
    raise FileNotFoundError("run.schema.json is missing from this installation")

"""run.json: loading with full validation, and deterministic, atomic saving.

Every refusal is a :class:`~petri_exec.errors.RunFileError` whose one-line message
names the file, the JSON path of the offending value and what to do.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

from .._gc import gc_paused
from .._root import data_file
from ..errors import RunFileError, TemplateError
from .checks import (
    _Ctx,
    _join,
    _json,
    _kind,
    _status,
    check_run,
    is_identity,
    validate_checked,
    validate_run,
)
from .facts import MAX_NESTING
from .jsonio import decode_run_file, dump_run, read_regular, run_to_json, write_atomic
from .model import Epic, Run, Slice
from .templates import Template, load_template

__all__ = [
    "check_run",
    "dump_run",
    "load_checked",
    "load_file",
    "parse_checked",
    "parse_run",
    "read_run_bytes",
    "run_schema",
    "run_to_json",
    "save_run",
    "validate_checked",
    "validate_run",
    "write_atomic",
]

_RUN_KEYS = ("version", "run_id", "template", "status", "abandoned", "identity", "facts", "meta",
             "epics", "slices")
_SLICE_KEYS = ("id", "title", "epic", "depends_on", "status", "facts", "meta")
_EPIC_KEYS = ("id", "depends_on")






def load_checked(
    path: str | os.PathLike[str], *, template_dirs: Iterable[str | os.PathLike[str]] = ()
) -> tuple[Run, Template, list[tuple[int, ...]]]:
    """Read run.json alone (the checkpoint, without the journal), with its template and
    each slice's dependencies.

    Raises:
        RunFileError: As :func:`parse_run`.
    """
    return load_file(path, template_dirs=template_dirs)[1:]


def read_run_bytes(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a run file, which must be a regular file.

    Args:
        path: The run file.

    Returns:
        Its bytes.

    Raises:
        RunFileError: It cannot be read, or is a directory, FIFO, device or socket.
    """
    file = os.fspath(path)
    try:
        return read_regular(file)
    except OSError as e:
        raise RunFileError(f"cannot read run file ({e.strerror})", file=file) from None


def load_file(
    path: str | os.PathLike[str], *, template_dirs: Iterable[str | os.PathLike[str]] = ()
) -> tuple[bytes, Run, Template, list[tuple[int, ...]]]:
    """:func:`load_checked` that also returns the file's exact bytes (for its digest).

    Raises:
        RunFileError: As :func:`parse_run`.
    """
    file = os.fspath(path)
    raw = read_run_bytes(file)
    data = decode_run_file(raw, file)
    return (raw, *parse_checked(data, file=file, template_dirs=template_dirs))


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
    identity = data.get("identity")
    if identity is not None and not is_identity(identity):
        raise c.fail("identity", f"expected 32 lowercase hex digits (written by petri-exec), "
                     f"got {_json(identity)}; remove the key (drive --fresh mints a new one)")
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
              facts=facts, epics=tuple(epics), meta=meta, abandoned=abandoned,
              identity=identity)
    return run, template, check_run(run, template, file=file)






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






def save_run(run: Run, path: str | os.PathLike[str]) -> None:
    """Write ``run`` to ``path`` deterministically and atomically.

    Args:
        run: The run.
        path: Destination file.

    Raises:
        OSError: The directory is not writable; the old file is then untouched.
    """
    write_atomic(path, dump_run(run))




def run_schema() -> dict[str, Any]:
    """The JSON Schema of run.json version 1 (``docs/run.schema.json``, shipped in the wheel).

    Returns:
        The schema as a dict.

    Raises:
        FileNotFoundError: Neither the packaged nor the checkout copy exists.
    """
    found = data_file("run.schema.json", "docs/run.schema.json")
    if found is not None:
        schema: dict[str, Any] = json.loads(found.read_text("utf-8"))
        return schema
    raise FileNotFoundError("run.schema.json is missing from this installation")

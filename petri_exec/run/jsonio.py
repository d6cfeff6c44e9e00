"""JSON in and out: strict decoding of run files, the canonical bytes of a run, and atomic
replacement of a file.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .._gc import gc_paused
from ..errors import RunFileError
from .checks import _join
from .indentjson import dumps_indented
from .model import Run, Slice

__all__ = [
    "TEMP_MARK",
    "decode_run_file",
    "dump_run",
    "fsync_dir",
    "is_temp_file_of",
    "open_regular",
    "read_regular",
    "run_to_json",
    "write_atomic",
]

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


def decode_run_file(raw: bytes, file: str) -> Any:
    """Decode run.json bytes strictly: UTF-8, JSON without NaN/Infinity, duplicate keys or
    lone surrogates.

    Args:
        raw: The file's bytes.
        file: Its name, for messages.

    Returns:
        The JSON document.

    Raises:
        RunFileError: The bytes are not such a document (the message names the place).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RunFileError(
            f"not UTF-8 (byte {e.start}); save the file as UTF-8", file=file
        ) from None
    try:
        hook, duplicated = _duplicate_hook()
        with gc_paused():  # a large file is a large acyclic structure: keep it linear
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
    return data


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
    if run.identity is not None:
        doc["identity"] = run.identity
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
    return (dumps_indented(doc) + "\n").encode("utf-8")


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


def _file_mode(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


#: The marker in the names of the temp files :func:`write_atomic` creates:
#: ``.<target name>.petri-tmp.<16 hex digits>``.
TEMP_MARK = ".petri-tmp."
_TEMP_SUFFIX = re.compile(r"[0-9a-f]{16}")


def is_temp_file_of(name: str, target_name: str) -> bool:
    """Whether ``name`` is one of :func:`write_atomic`'s temp files for ``target_name``.

    Exact: the name is ``.<target_name>.petri-tmp.`` plus 16 hex digits, so another file's
    temp files (or a file whose name contains glob characters) never match.

    Args:
        name: A directory entry's name.
        target_name: The file a temp file would replace.

    Returns:
        True when ``name`` is such a temp file.
    """
    prefix = f".{target_name}{TEMP_MARK}"
    return (name.startswith(prefix) and len(name) == len(prefix) + 16
            and _TEMP_SUFFIX.fullmatch(name, len(prefix)) is not None)


def _kind_of(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


def open_regular(path: str | os.PathLike[str], flags: int, mode: int = 0o644) -> int:
    """Open a file that must be a regular file, without ever blocking on a FIFO.

    Args:
        path: The file.
        flags: ``os.open`` flags (``O_NONBLOCK`` and ``O_CLOEXEC`` are added).
        mode: Permissions for a created file.

    Returns:
        The file descriptor (blocking mode restored).

    Raises:
        OSError: Opening failed; ``EINVAL`` with a message naming what the path is when it
            is not a regular file (a directory, FIFO, device or socket), ``ENOENT``
            naming the target for a dangling symlink.
    """
    file = os.fspath(path)
    try:
        fd = os.open(file, flags | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except FileNotFoundError:
        if os.path.islink(file):
            raise FileNotFoundError(errno.ENOENT, "a dangling symbolic link (to "
                                    f"{os.readlink(file)!r})", file) from None
        raise
    except OSError as e:
        if e.errno in (errno.EISDIR, errno.ENXIO, errno.ENODEV):
            try:
                kind = _kind_of(os.stat(file).st_mode)
            except OSError:
                kind = "not a regular file"
            raise OSError(errno.EINVAL, f"{kind}, not a regular file", file) from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, f"{_kind_of(st.st_mode)}, not a regular file", file)
    fl = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, fl & ~os.O_NONBLOCK)
    return fd


def read_regular(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a regular file (never blocks on a FIFO, never reads a device).

    Args:
        path: The file.

    Returns:
        Its content.

    Raises:
        OSError: As :func:`open_regular`, or reading failed.
    """
    fd = open_regular(path, os.O_RDONLY)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_atomic(path: str | os.PathLike[str], data: bytes, *, keep_locked: bool = False
                 ) -> int | None:
    """Replace ``path`` by ``data`` atomically: temp file, fsync, rename, fsync the directory.

    A reader sees either the old or the new content, never a torn file. The temp file is
    ``.<name>.petri-tmp.<16 hex digits>`` beside the target (see :func:`is_temp_file_of`).

    Args:
        path: Destination file (a symbolic link is followed: its target is replaced).
        data: New content.
        keep_locked: Take an exclusive ``flock`` on the new file before it is renamed into
            place and return its open descriptor (the caller closes it): the file at
            ``path`` is then locked at every instant (see ``engine.durable.run_lock``).

    Returns:
        The locked descriptor with ``keep_locked``, else None.

    Raises:
        OSError: Writing failed; the old file is untouched and no temp file is left.
    """
    target = Path(os.path.realpath(path))
    tmp = target.with_name(f".{target.name}{TEMP_MARK}{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        try:
            os.fchmod(fd, _file_mode(target))
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
            if keep_locked:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
    except BaseException:
        os.close(fd)
        raise
    if not keep_locked:
        os.close(fd)
    fsync_dir(target.parent)
    return fd if keep_locked else None


def fsync_dir(directory: Path) -> None:
    """Sync a directory, so a file created or renamed in it survives a power loss (best
    effort: a directory that cannot be opened is left alone)."""
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)

"""The runs a server shows: run files named on the command line and the runs in directories.

Each run gets a short name for its address (``/runs/<slug>``, from the file's stem, made
unique) and a :class:`~.follow.RunFollower`. Directories are scanned again when asked
(:meth:`Catalog.rescan`), so a run file created while the server runs appears on the index;
a file that was shown once stays listed (with its error) when it goes away.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

import attrs

from ...errors import UsageError
from .follow import RunFollower

__all__ = ["Catalog", "Entry", "is_run_file"]

_SLUG = re.compile(r"[^A-Za-z0-9_.-]+")
_PEEK = 65536


def is_run_file(path: Path) -> bool:
    """Whether a ``*.json`` file in a served directory looks like a run file: its first
    64 KiB name a ``"run_id"`` (net exports, schemas and other JSON are left out).

    Args:
        path: The file.

    Returns:
        True for a regular file that looks like a run (damaged ones included).
    """
    if path.suffix != ".json" or path.name.endswith(".schema.json"):
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(_PEEK)
    except OSError:
        return False
    return b'"run_id"' in head


@attrs.define
class Entry:
    """One served run.

    Attributes:
        slug: Its name in addresses.
        path: The run file.
        follower: Its follower.
    """

    slug: str
    path: Path
    follower: RunFollower


class Catalog:
    """The served runs, in the order they were found."""

    def __init__(self, sources: Iterable[str | os.PathLike[str]],
                 template_dirs: Iterable[str | os.PathLike[str]] = ()) -> None:
        """Check the sources and find the runs.

        Args:
            sources: Run files and directories of run files.
            template_dirs: Extra template directories.

        Raises:
            UsageError: A source does not exist or is neither a file nor a directory.
        """
        self.files: list[Path] = []
        self.dirs: list[Path] = []
        self._template_dirs = tuple(template_dirs)
        for src in sources:
            p = Path(src)
            if p.is_dir():
                self.dirs.append(p)
            elif p.is_file():
                self.files.append(p)
            else:
                raise UsageError(f"{os.fspath(p)}: no such run file or directory; name run "
                                 "files (run.json) or directories that hold them")
        self.entries: dict[str, Entry] = {}
        self._by_path: dict[Path, Entry] = {}
        self.rescan()

    @property
    def single(self) -> Entry | None:
        """The one run, when one run file and no directory is served."""
        if len(self.files) == 1 and not self.dirs and len(self.entries) == 1:
            return next(iter(self.entries.values()))
        return None

    def rescan(self) -> bool:
        """Add the run files that appeared in the served directories.

        Returns:
            Whether any was added.
        """
        found = list(self.files)
        for d in self.dirs:
            try:
                names = sorted(os.listdir(d))
            except OSError:
                continue
            found.extend(d / n for n in names if is_run_file(d / n))
        added = False
        for path in found:
            key = path.resolve()
            if key in self._by_path:
                continue
            slug = self._slug(path)
            entry = Entry(slug, path, RunFollower(path, self._template_dirs))
            self.entries[slug] = self._by_path[key] = entry
            added = True
        return added

    def _slug(self, path: Path) -> str:
        base = _SLUG.sub("-", path.stem).strip("-.") or "run"
        slug, n = base, 1
        while slug in self.entries:
            n += 1
            slug = f"{base}-{n}"
        return slug

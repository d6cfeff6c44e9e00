"""Durability: the journal is the run's write-ahead log, run.json its checkpoint.

- A firing is durable once its ``transition_fired`` event is appended (and, by default,
  fsync-ed) to ``<run stem>.events.jsonl``. run.json is rewritten atomically only at
  checkpoints; the ``checkpoint`` event carrying the new file's digest is appended just
  before the new file is renamed into place.
- Loading a run = run.json plus the events after the journal's latest event carrying
  run.json's digest (:mod:`.journalscan`), replayed strictly through the net: every firing
  must be enabled. So loading costs O(events since that checkpoint), and a reader racing a
  writer still sees a state the run really passed through, with no lock.
- A journal belongs to one run: its header names the run's ``run_id`` and ``identity``
  (minted when the run file is first driven) and the run file's name; another run's journal
  is refused, naming both, with the way out (``drive --fresh``).
- Operations that rewrite run.json (``abandon``, ``retry``, ``amend``) journal an event with
  the new file's digest just before renaming it: until the rename happens they have not
  happened, so replay skips such an event.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import attrs

from ..core.compile import compile_checked, marking_of
from ..core.runnet import RunNet
from ..errors import JournalError, UnknownTransitionError
from ..run.model import Run
from ..run.runfile import load_file
from ..run.templates import Template
from .journal import DIGEST_KINDS, Event, journal_path
from .journalscan import Scan, scan_journal
from .live import LiveRun

__all__ = ["Durable", "digest_of", "load_durable", "load_run"]


def digest_of(data: bytes) -> str:
    """The digest journaled for run.json bytes: SHA-256, hex."""
    return hashlib.sha256(data).hexdigest()


@attrs.frozen
class Durable:
    """The durable state of a run file.

    Attributes:
        run: run.json with the journal's later firings applied.
        template: Its template.
        deps: Each slice's effective dependencies.
        path: The run file, symbolic links resolved.
        digest: The digest of run.json as read.
        last_seq: The journal's last seq (-1 when empty).
        torn: Whether the journal's last line was torn (and ignored).
        replayed: How many firings came from the journal rather than run.json.
        attempts: Attempts so far of transitions not fired yet, by name.
        header: Whether the journal has its ``journal_started`` header.
        edited: run.json matches no checkpoint but nothing was fired since the last one:
            it was edited outside petri-exec (the next driver records it).
    """

    run: Run
    template: Template
    deps: list[tuple[int, ...]]
    path: Path
    digest: str
    last_seq: int
    torn: bool
    replayed: int
    attempts: dict[str, int]
    header: bool
    edited: bool


def _foreign(jpath: Path, path: Path, header: Event, run: Run, why: str) -> JournalError:
    return JournalError(
        f"{jpath}: this journal belongs to another run ({why}: the journal names run "
        f"{header.run_id!r}, identity {header.identity}, run file {header.run_file!r}; "
        f"{path.name} is run {run.run_id!r}, identity {run.identity}); "
        f"'petri-exec drive {path} --fresh' moves it aside and starts a new journal")


def _check_header(scan: Scan, jpath: Path, path: Path, run: Run, origin: bool) -> None:
    h = scan.header
    if h is None:
        return
    if h.run_id != run.run_id:
        raise _foreign(jpath, path, h, run, "another run_id")
    if h.identity != run.identity and not origin:
        raise _foreign(jpath, path, h, run, "another identity")


def load_durable(
    path: str | os.PathLike[str], *, template_dirs: Iterable[str | os.PathLike[str]] = ()
) -> Durable:
    """Read run.json and replay the journal's events after the checkpoint it matches.

    Args:
        path: The run file.
        template_dirs: Extra template directories.

    Returns:
        The durable state.

    Raises:
        RunFileError: run.json is invalid or unreadable.
        JournalError: The journal is damaged, another run's, or contradicts run.json.
    """
    real = Path(os.path.realpath(path))
    raw, run, template, deps = load_file(real, template_dirs=template_dirs)
    digest = digest_of(raw)
    jpath = journal_path(real)
    scan = scan_journal(jpath, digest)
    h = scan.header
    # run.json as it was before its first drive stamped the identity (read just before)
    origin = scan.base is None and h is not None and h.origin == digest and bool(scan.tail)
    _check_header(scan, jpath, real, run, origin)
    edited = False
    first = 0  # index in scan.tail of the first event replayed
    if origin and h is not None:
        run = attrs.evolve(run, identity=h.identity)
        events, strict, first = scan.tail[1:], True, 1
    elif scan.base is not None:
        events, strict = scan.tail, True
    elif not scan.digests:  # a journal written before digests: replay after its checkpoint
        last = max((i for i, e in enumerate(scan.tail) if e.kind == "checkpoint"), default=-1)
        events, strict, first = scan.tail[last + 1:], False, last + 1
    else:
        last = max(i for i, e in enumerate(scan.tail)
                   if e.kind in DIGEST_KINDS and e.digest is not None)
        after = [e for e in scan.tail[last + 1:] if e.kind == "transition_fired"]
        if after:
            raise JournalError(
                f"{jpath}: run.json ({real.name}) is not the state this journal leads to: "
                f"{len(after)} firing(s) after its last checkpoint (seq "
                f"{scan.tail[last].seq}) are not in it, and it matches no checkpoint. If "
                "run.json was restored from a backup, restore the journal from the same "
                f"backup; to keep this run.json, 'petri-exec drive {real} --fresh' starts a "
                "new journal (the old one is kept beside it)")
        events, strict, edited = [], True, True
    attempts: dict[str, int] = dict(scan.base.attempts or {}) if scan.base is not None else {}
    # with no base, every event is in the tail: count them all
    for e in scan.tail if scan.base is None else events:
        if e.kind == "transition_started" and e.transition is not None:
            attempts[e.transition] = max(attempts.get(e.transition, 0), e.attempt or 1)
    run, replayed = _replay(run, template, deps, events, strict, jpath, real,
                            lambda i: scan.where(jpath, first + i))
    return Durable(run, template, deps, real, digest, scan.last_seq, scan.torn, replayed,
                   attempts, scan.header is not None, edited)


def _replay(run: Run, template: Template, deps: list[tuple[int, ...]], events: list[Event],
            strict: bool, jpath: Path, path: Path, where_of: Callable[[int], str]
            ) -> tuple[Run, int]:
    for i, e in enumerate(events):
        if e.run_id != run.run_id:
            raise JournalError(f"{where_of(i)}: a {e.kind} event of run {e.run_id!r}, not "
                               f"{run.run_id!r}: this journal holds another run's events; "
                               f"'petri-exec drive {path} --fresh' moves it aside and "
                               "starts a new one")
    todo = [(i, e) for i, e in enumerate(events) if e.kind == "transition_fired"
            or (e.kind == "run_abandoned" and e.digest is None)]
    if not todo:
        return run, 0
    net = compile_checked(run, template, False, deps)
    live = LiveRun(run, template, net.slice_of if isinstance(net, RunNet) else None)
    state = net.state(marking_of(run))
    replayed = 0
    for i, e in todo:
        if e.kind == "run_abandoned":  # written before digests: it is in effect
            live.abandoned = e.reason or "abandoned"
            continue
        try:
            t = net.transition(e.transition or "")
        except UnknownTransitionError:
            raise JournalError(f"{where_of(i)}: unknown transition {e.transition!r}: the journal "
                               f"does not match {path}; restore the matching run.json, or "
                               f"'petri-exec drive {path} --fresh' to start a new journal"
                               ) from None
        if state.is_enabled(t):
            state.fire(t)
            live.apply(t, e.facts or {})
            replayed += 1
        elif strict or not live.applied(t):
            lacking = ", ".join(p for p, _, _ in state.missing(t))
            raise JournalError(f"{where_of(i)}: {t.name!r} fired but was not enabled (missing "
                               f"{lacking}): the journal contradicts {path}; restore the "
                               "run.json that matches it (a backup), or "
                               f"'petri-exec drive {path} --fresh' to start a new journal")
    return live.snapshot(), replayed


def load_run(
    path: str | os.PathLike[str], *, template_dirs: Iterable[str | os.PathLike[str]] = ()
) -> Run:
    """Read and validate a run: run.json plus the journal's firings after the checkpoint
    it matches. Never locks and never fails because a driver is writing meanwhile.

    Args:
        path: The run.json file (its journal ``<stem>.events.jsonl`` is read if present).
        template_dirs: Extra directories to look up the run's template in.

    Returns:
        The validated, durable run, with every default filled in.

    Raises:
        RunFileError: The file is unreadable, not JSON, or breaks a rule of the format.
        JournalError: The journal is damaged, another run's, or contradicts run.json.
    """
    return load_durable(path, template_dirs=template_dirs).run

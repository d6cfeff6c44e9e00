"""The engine: the one effectful layer. ``drive``/``fire``/``abandon`` (``api``), the driver
that owns a run's state and verdicts, the sequential and concurrent loops, the ready queue, the
journal (the write-ahead log), durability (locks, replay, ``load_run``) and the live run.

Imports: ``ports``, ``analysis``, ``interchange``, ``core``, ``run``, ``errors``, ``_gc``;
never ``views`` or the command line.
"""

from __future__ import annotations

from .api import abandon, adrive, drive, fire, preflight
from .driver import Driver
from .durable import Durable, digest_of, load_durable, load_run
from .journal import DIGEST_KINDS, EVENT_KINDS, Event, Journal, journal_path, read_journal
from .journalscan import Scan, scan_journal
from .live import DependencyFacts, LiveRun
from .lock import RunLock, holder_pid, run_lock
from .operate import amend, retry
from .outcome import DriveOutcome, Failure, Job, StepPolicy, call_port
from .readyqueue import ReadyQueue
from .writer import RunWriter, check_sibling_names, move_journal_aside, sibling_names

__all__ = [
    "DIGEST_KINDS",
    "DependencyFacts",
    "DriveOutcome",
    "Driver",
    "Durable",
    "EVENT_KINDS",
    "Event",
    "Failure",
    "Job",
    "Journal",
    "LiveRun",
    "ReadyQueue",
    "RunLock",
    "RunWriter",
    "Scan",
    "StepPolicy",
    "abandon",
    "amend",
    "adrive",
    "call_port",
    "check_sibling_names",
    "digest_of",
    "drive",
    "fire",
    "holder_pid",
    "journal_path",
    "load_durable",
    "load_run",
    "move_journal_aside",
    "preflight",
    "read_journal",
    "retry",
    "run_lock",
    "scan_journal",
    "sibling_names",
]

"""The engine: the one effectful layer. ``drive``/``fire``/``abandon`` (``api``), the driver
that owns a run's state and verdicts, the sequential and concurrent loops, the ready queue, the
journal (the write-ahead log), durability (locks, replay, ``load_run``) and the live run.

Imports: ``ports``, ``analysis``, ``interchange``, ``core``, ``run``, ``errors``, ``_gc``;
never ``views`` or the command line.
"""

from __future__ import annotations

from .api import abandon, adrive, drive, fire
from .driver import Driver
from .durable import Durable, load_durable, load_run, lock_path, run_lock
from .journal import EVENT_KINDS, Event, Journal, journal_path, read_journal
from .live import LiveRun
from .outcome import DriveOutcome, Failure, Job, StepPolicy, call_port
from .readyqueue import ReadyQueue

__all__ = [
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
    "StepPolicy",
    "abandon",
    "adrive",
    "call_port",
    "drive",
    "fire",
    "journal_path",
    "load_durable",
    "load_run",
    "lock_path",
    "read_journal",
    "run_lock",
]

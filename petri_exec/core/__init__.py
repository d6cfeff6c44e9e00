"""The pure net core: nets, markings, incremental enabling (``NetState``, ``RunState``), compiled
runs (``RunNet``), the compiler from a run to its net, and the schedulers.

No I/O: nothing here opens a file, starts a thread, reads a clock or calls a port, except that a
``template=None`` default resolves through the cached :func:`petri_exec.run.load_template`.
Imports: ``petri_exec.run``, ``petri_exec.errors``, ``petri_exec._gc``.
"""

from __future__ import annotations

from .compile import compile_checked, compile_run, linear_order, marking_of
from .marking import Marking, not_enabled
from .net import Arc, Effect, Net, Transition
from .netstate import NetState
from .runnet import RunMarking, RunNet
from .runstate import RunState, one_token_each
from .schedulers import (
    LinearScheduler,
    PetriScheduler,
    ScanSession,
    Scheduler,
    Session,
    open_session,
)

__all__ = [
    "Arc",
    "Effect",
    "LinearScheduler",
    "Marking",
    "Net",
    "NetState",
    "PetriScheduler",
    "RunMarking",
    "RunNet",
    "RunState",
    "ScanSession",
    "Scheduler",
    "Session",
    "Transition",
    "compile_checked",
    "compile_run",
    "linear_order",
    "marking_of",
    "one_token_each",
    "not_enabled",
    "open_session",
]

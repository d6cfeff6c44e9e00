"""petri-exec: drive multi-step runs to completion by compiling them into Petri nets.

Quick use::

    import petri_exec as pe
    outcome = pe.drive("run.json", {"runner": my_port})
"""

from __future__ import annotations

from .analysis import Analysis, analyze
from .compile import compile_run, linear_order, marking_of
from .drive import DriveOutcome, Failure, abandon, adrive, drive, fire
from .errors import (
    JournalError,
    NetFormatError,
    NotEnabledError,
    PetriExecError,
    PortError,
    RunFileError,
    RunLockedError,
    TemplateError,
    UnknownTransitionError,
    UsageError,
)
from .events import Event, journal_path, read_journal
from .model import Epic, Run, Slice
from .net import Effect, Marking, Net, Transition
from .netstate import NetState
from .pnml import from_pnml, to_pnml
from .ports import StepContext, StepResult
from .proof import RunAnalysis, analyze_run
from .runfile import dump_run, load_run, parse_run, run_schema, save_run, validate_run
from .runnet import RunMarking, RunNet, RunState
from .schedulers import LinearScheduler, PetriScheduler, ScanSession, Scheduler, Session
from .snakes_bridge import from_snakes, to_snakes
from .templates import Lane, Step, Template, load_template
from .why import Why, why

__version__ = "0.1.0"

__all__ = [
    "Analysis",
    "DriveOutcome",
    "Effect",
    "Epic",
    "Event",
    "Failure",
    "JournalError",
    "Lane",
    "LinearScheduler",
    "Marking",
    "Net",
    "NetFormatError",
    "NetState",
    "NotEnabledError",
    "PetriExecError",
    "PetriScheduler",
    "PortError",
    "Run",
    "RunMarking",
    "RunNet",
    "RunState",
    "RunAnalysis",
    "RunFileError",
    "RunLockedError",
    "ScanSession",
    "Scheduler",
    "Session",
    "Slice",
    "Step",
    "StepContext",
    "StepResult",
    "Template",
    "TemplateError",
    "Transition",
    "UnknownTransitionError",
    "UsageError",
    "Why",
    "__version__",
    "abandon",
    "adrive",
    "analyze",
    "analyze_run",
    "compile_run",
    "drive",
    "dump_run",
    "fire",
    "from_pnml",
    "from_snakes",
    "journal_path",
    "linear_order",
    "load_run",
    "load_template",
    "marking_of",
    "parse_run",
    "read_journal",
    "run_schema",
    "save_run",
    "to_pnml",
    "to_snakes",
    "validate_run",
    "why",
]

"""petri-exec: drive multi-step runs to completion by compiling them into Petri nets.

Quick use::

    import petri_exec as pe
    outcome = pe.drive("run.json", {"runner": my_port})
"""

from __future__ import annotations

# The layers, lowest first (imports point down this list only; tests/test_layout.py checks it):
#   errors, _gc, _root -> run (files and values) -> core (pure nets, schedulers)
#   -> analysis | interchange (siblings) -> ports -> engine (the only effects) -> views -> cli
# The facade re-exports from the packages and never imports views or cli.
from .analysis import Analysis, RunAnalysis, Why, analyze, analyze_run, why
from .core import (
    Effect,
    LinearScheduler,
    Marking,
    Net,
    NetState,
    PetriScheduler,
    RunMarking,
    RunNet,
    RunState,
    ScanSession,
    Scheduler,
    Session,
    Transition,
    compile_run,
    linear_order,
    marking_of,
)
from .engine import (
    DriveOutcome,
    Event,
    Failure,
    abandon,
    adrive,
    amend,
    drive,
    fire,
    journal_path,
    load_run,
    read_journal,
    retry,
)
from .errors import (
    GitCommandError,
    GitRepoError,
    JournalError,
    NetFormatError,
    NotEnabledError,
    PetriExecError,
    PortError,
    RunFileError,
    RunLockedError,
    RunPathError,
    TemplateError,
    UnknownTransitionError,
    UsageError,
)
from .interchange import from_pnml, from_snakes, to_pnml, to_snakes
from .ports import GitPorts, StepContext, StepResult
from .run import (
    Epic,
    Lane,
    Run,
    Slice,
    Step,
    Template,
    dump_run,
    load_template,
    parse_run,
    run_schema,
    save_run,
    validate_run,
)

__version__ = "0.1.0"

__all__ = [
    "Analysis",
    "DriveOutcome",
    "Effect",
    "Epic",
    "Event",
    "Failure",
    "GitCommandError",
    "GitPorts",
    "GitRepoError",
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
    "RunPathError",
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
    "amend",
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
    "retry",
    "run_schema",
    "save_run",
    "to_pnml",
    "to_snakes",
    "validate_run",
    "why",
]

"""Analysis of nets and runs: structure (conflicts, bounds), compact state spaces and what
they show (reachability, the Model Checking Contest's properties), soundness of any net,
structural proofs for compiled runs, and ``why`` a transition waits.

Pure. Imports: ``core``, ``run``, ``errors``, ``_gc``; never ``interchange`` (a sibling), the
engine, ports, views or the command line.
"""

from __future__ import annotations

from .properties import Properties, contest_properties
from .reachability import (
    DEFAULT_MAX_MEMORY,
    DEFAULT_MAX_STATES,
    Behaviour,
    Goal,
    Witness,
    behaviour,
    reachability_graph,
)
from .runproof import RunAnalysis, analyze_run, run_goal
from .soundness import Analysis, FinalSpec, analyze, goal_for, properties_line, soundness
from .statespace import StateSpace, explore
from .structure import Conflict, Structure, bounds, structure
from .why import Need, Why, why

__all__ = [
    "Analysis",
    "Behaviour",
    "Conflict",
    "DEFAULT_MAX_MEMORY",
    "DEFAULT_MAX_STATES",
    "FinalSpec",
    "Goal",
    "Need",
    "Properties",
    "RunAnalysis",
    "StateSpace",
    "Structure",
    "Why",
    "Witness",
    "analyze",
    "analyze_run",
    "behaviour",
    "bounds",
    "explore",
    "goal_for",
    "contest_properties",
    "properties_line",
    "reachability_graph",
    "run_goal",
    "soundness",
    "structure",
    "why",
]

"""Analysis of nets and runs: structure (conflicts, bounds), state spaces (reachability),
soundness of any net, structural proofs for compiled runs, and ``why`` a transition waits.

Pure. Imports: ``core``, ``run``, ``errors``, ``_gc``; never ``interchange`` (a sibling), the
engine, ports, views or the command line.
"""

from __future__ import annotations

from .reachability import (
    DEFAULT_MAX_STATES,
    Behaviour,
    Goal,
    Witness,
    behaviour,
    reachability_graph,
)
from .runproof import RunAnalysis, analyze_run, run_goal
from .soundness import Analysis, FinalSpec, analyze, goal_for, soundness
from .structure import Conflict, Structure, bounds, structure
from .why import Need, Why, why

__all__ = [
    "Analysis",
    "Behaviour",
    "Conflict",
    "DEFAULT_MAX_STATES",
    "FinalSpec",
    "Goal",
    "Need",
    "RunAnalysis",
    "Structure",
    "Why",
    "Witness",
    "analyze",
    "analyze_run",
    "behaviour",
    "bounds",
    "goal_for",
    "reachability_graph",
    "run_goal",
    "soundness",
    "structure",
    "why",
]

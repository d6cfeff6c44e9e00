"""``pe.analyze``: structural and behavioural analysis of any place/transition net.

Structural facts come from the arcs alone (:mod:`petri_exec.analysis.structure`, linear time).
Behavioural facts come from the reachability graph (:mod:`petri_exec.analysis.reachability`,
bounded by ``max_states``): deadlocks, option to complete, proper completion, dead
transitions and boundedness, the soundness checks of workflow nets.

*Final* markings are the ones you pass: one marking, several, or a predicate. A deadlock is
a reachable marking, not final, where nothing (manual gates included) is enabled. Without a
final marking every dead marking is a deadlock and soundness is not decided. For compiled
runs use :func:`petri_exec.analyze_run`, which knows the run lane's end and answers by a
structural proof.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from ..core.marking import Marking
from ..core.net import Net
from .properties import Properties
from .reachability import DEFAULT_MAX_MEMORY, DEFAULT_MAX_STATES, Behaviour, Goal, behaviour
from .structure import Structure, structure

__all__ = ["Analysis", "FinalSpec", "analyze", "goal_for", "properties_line", "soundness"]

#: What ``final`` accepts: a marking, several markings, a predicate, or None.
FinalSpec = Mapping[str, int] | Iterable[Mapping[str, int]] | Callable[[Marking], bool] | None


@attrs.frozen
class Analysis:
    """The analysis of a net at a marking.

    Attributes:
        net: The net's name.
        structure: What the arcs prove.
        behaviour: What the reachability graph shows (None when not asked for).
        sound: Option to complete, proper completion, no dead transitions and boundedness
            all hold (None: undecided, e.g. no final marking given or the bound was hit).
        problems: One line per problem found, each naming what is wrong and where.
    """

    net: str
    structure: Structure
    behaviour: Behaviour | None
    sound: bool | None
    problems: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """This report as a JSON-ready dict."""
        return {
            "net": self.net, "sound": self.sound, "problems": list(self.problems),
            "structure": self.structure.to_json(),
            "behaviour": self.behaviour.to_json() if self.behaviour else None,
        }

    @property
    def properties(self) -> Properties | None:
        """The contest's standard properties (None without the behavioural analysis)."""
        return self.behaviour.properties if self.behaviour is not None else None

    def summary(self) -> str:
        """A readable, multi-line report."""
        s = self.structure
        lines = [f"net {self.net!r}: {s.places} places, {s.transitions} transitions, "
                 f"{s.arcs} arcs"]
        safe = {True: "1-safe (place invariants)", None: "safeness not provable "
                "structurally"}[s.safe]
        lines.append(f"  structure: {safe}; {len(s.conflicts)} conflict place(s); "
                     f"{len(s.dead_transitions)} structurally dead transition(s)")
        b = self.behaviour
        if b is not None:
            extent = "complete" if b.complete else "partial"
            lines.append(f"  state space: {b.states} markings, {b.edges} firings ({extent})")
            lines.append(f"  deadlocks: {b.deadlock_count}; option to complete: "
                         f"{_yn(b.option_to_complete)}; proper completion: "
                         f"{_yn(b.proper_completion)}; bounded: {_yn(b.bounded)}"
                         + (f" (bound {b.bound})" if b.bound is not None else ""))
            if b.properties is not None:
                lines.append(f"  properties: {properties_line(b.properties)}")
        for p in self.problems:
            lines.append(f"  problem: {p}")
        lines.append(f"  sound: {_yn(self.sound)}")
        return "\n".join(lines) + "\n"


def _yn(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "unknown"}[value]


def properties_line(p: Properties) -> str:
    """The contest's properties on one line (``check --behavioural`` prints it too).

    Args:
        p: The properties.

    Returns:
        ``live: no (t1, t2); quasi-live: yes; stable places: 2; 1-safe: yes; max tokens:
        1 in a place, 3 in a marking; dead marking reachable: no``.
    """
    def few(names: tuple[str, ...]) -> str:
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3
                                        else "")
        return f" ({shown})" if names else ""

    stable = "unknown" if p.stable_places is None else str(len(p.stable_places))
    tokens = ("unknown" if p.max_tokens_in_place is None else
              f"{p.max_tokens_in_place} in a place, {p.max_tokens_per_marking} in a marking")
    return (f"live: {_yn(p.live)}{few(p.not_live) if p.live is False else ''}; "
            f"quasi-live: {_yn(p.quasi_live)}"
            f"{few(p.never_fired or ()) if p.quasi_live is False else ''}; "
            f"stable places: {stable}; 1-safe: {_yn(p.one_safe)}; max tokens: {tokens}; "
            f"dead marking reachable: {_yn(p.deadlock)}")


def goal_for(final: FinalSpec) -> Goal:
    """The :class:`~petri_exec.analysis.reachability.Goal` for a ``final`` argument.

    Args:
        final: None (no final marking), a marking, an iterable of markings, or a predicate
            on markings. With markings, a reachable marking that strictly covers a final
            one breaks proper completion; with a predicate, proper completion is not
            checked.

    Returns:
        The goal.
    """
    if final is None:
        return Goal()
    if callable(final):
        return Goal(is_final=final)
    targets = [Marking(final)] if isinstance(final, Mapping) else [Marking(f) for f in final]
    wanted = frozenset(targets)

    def is_final(m: Marking) -> bool:
        return m in wanted

    def improper(m: Marking) -> bool:
        return m not in wanted and any(
            all(m.get(p, 0) >= n for p, n in t.items()) for t in targets)

    return Goal(is_final=is_final, improper=improper, final_markings=tuple(targets))


def soundness(b: Behaviour, *, proper: bool = True) -> bool | None:
    """Soundness from a behaviour report: every checked property holds (None: unknown).

    Args:
        b: The behaviour report (with a goal that has final markings).
        proper: Whether proper completion was checked (it is not for a predicate).

    Returns:
        False when a property fails, True when all checked ones hold, None otherwise.
    """
    checks = [b.option_to_complete, b.bounded,
              None if b.dead_transitions is None else not b.dead_transitions]
    if proper:
        checks.append(b.proper_completion)
    if False in checks:
        return False
    return None if None in checks else True


def _problems(b: Behaviour, has_final: bool) -> list[str]:
    out = []
    if b.limit:
        out.append(b.limit)
    for w in b.deadlocks:
        what = "deadlock" if has_final else "dead marking"
        out.append(f"{what}: after {' '.join(w.path) or '(nothing)'} nothing is enabled at "
                   f"{_fmt(w.marking)}" + (" (not a final marking)" if has_final else ""))
    if b.deadlock_count > len(b.deadlocks):
        out.append(f"... {b.deadlock_count - len(b.deadlocks)} more dead marking(s)")
    if b.option_to_complete is False and not b.deadlocks:
        out.append("no option to complete: some reachable marking cannot reach a final one")
    if b.improper is not None:
        out.append(f"improper completion: after {' '.join(b.improper.path) or '(nothing)'} "
                   f"the marking {_fmt(b.improper.marking)} covers a final marking with "
                   "tokens left over")
    if b.dead_transitions:
        out.append(f"dead transitions (never fire): {', '.join(b.dead_transitions)}")
    return out


def _fmt(m: Marking) -> str:
    return "{" + ", ".join(f"{p}: {n}" for p, n in m.items()) + "}"


def analyze(net: Net, marking: Mapping[str, int], *, final: FinalSpec = None,
            max_states: int = DEFAULT_MAX_STATES, behavioural: bool = True,
            max_memory: int = DEFAULT_MAX_MEMORY) -> Analysis:
    """Analyse ``net`` from ``marking``: structure, then the reachability graph.

    Args:
        net: Any net (compiled runs too; :func:`petri_exec.analyze_run` is faster for them).
        marking: The start marking.
        final: The final marking(s) or a predicate (see :func:`goal_for`).
        max_states: Bound on the markings explored; when hit, ``behaviour.limit`` says so
            and the properties it cannot decide are None.
        behavioural: Build the reachability graph (False: structure only).
        max_memory: Bound on the bytes the state space may take (estimated from the
            size of a marking); when hit, ``behaviour.limit`` says so.

    Returns:
        The :class:`Analysis`.

    Raises:
        ValueError: ``max_states`` or ``max_memory`` is below 1, or the marking names a
            place the net lacks.
    """
    if max_states < 1:
        raise ValueError(f"max_states={max_states} must be at least 1")
    if max_memory < 1:
        raise ValueError(f"max_memory={max_memory} must be at least 1 (bytes)")
    start = Marking(marking)
    places = frozenset(net.places)  # once: the check is linear in places + marking
    unknown = [p for p in start if p not in places]
    if unknown:
        raise ValueError(f"marking has tokens in {', '.join(map(repr, unknown))}, not places "
                         f"of {net!r}; use the net's place names")
    st = structure(net, start)
    if not behavioural:
        return Analysis(net.name, st, None, None, ())
    goal = goal_for(final)
    b = behaviour(net, start, goal, max_states=max_states, max_memory=max_memory)
    sound = (soundness(b, proper=goal.improper is not None)
             if goal.is_final is not None else None)
    return Analysis(net.name, st, b, sound, tuple(_problems(b, goal.is_final is not None)))

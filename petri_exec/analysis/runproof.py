"""``pe.analyze_run``: soundness of a compiled run by structural proof, in linear time.

A compiled run is a special net: each lane is a linear chain holding one token (a place
invariant, so the net is 1-safe), each place is consumed by exactly one step (no
conflicts), and the only interaction is through read arcs: a slice's first step reads the
frontier and its dependencies' ``done``; the run step leaving the frontier reads every
slice's ``done``. Tokens only move forward, so the reachability graph is acyclic and "the
end cannot be reached from some reachable marking" is the same as "a deadlock is
reachable". From the run's statuses alone the outcome is decided exactly:

- run at or past its end: final; proper only if every slice is at least ``done``;
- run past the frontier: its remaining steps read nothing, so it reaches the end; a slice
  still at its initial status can never start (dead), one before ``done`` may be left
  unfinished (improper completion);
- run at or before the frontier: the run reaches the frontier; a slice can finish when it
  has started already or all its dependencies can finish (a least fixpoint: slices on or
  behind a dependency cycle never can); the run leaves the frontier once every slice holds
  ``done``. If the slice lane continues past ``done``, a slice may leave ``done`` first and
  the run deadlocks at the frontier.

Manual gates are fired by a human at the net level, so they do not make a net unsound; but
``drive()`` never fires them: a manual step between the run's status and the end stops
``drive()`` (it reports ``deadlocked`` there), which ``drive_completes`` reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from .._gc import gc_paused
from ..core.compile import compile_run, marking_of
from ..core.marking import Marking
from ..errors import RunFileError
from ..run.model import Run, dependencies
from ..run.templates import Lane, Template, load_template
from .reachability import DEFAULT_MAX_MEMORY, DEFAULT_MAX_STATES, Behaviour, Goal, behaviour

__all__ = ["RunAnalysis", "analyze_run", "run_goal"]


@attrs.frozen
class RunAnalysis:
    """The analysis of a compiled run (see the module docstring for the proof).

    Attributes:
        run_id: The run.
        template: Its template's name.
        status: The run's status.
        slices: Number of slices.
        dependency_edges: Number of effective dependency edges (epics expanded).
        places: Places of the compiled net.
        transitions: Transitions of the compiled net.
        arcs: Arcs of the compiled net.
        acyclic: The dependencies have no cycle.
        cycle: A dependency cycle as a closed path of slice ids (empty when acyclic).
        frontier: ``"ahead"`` (the run has not reached it), ``"held"`` or ``"passed"``.
        safe: No place ever holds two tokens (one token per lane: always true).
        conflict_free: No two steps consume the same place (always true).
        option_to_complete: The run's end is reachable from every reachable marking.
        proper_completion: Whenever the run is at its end, every slice is ``done``.
        deadlock: A reachable marking, before the end, enables nothing.
        dead_transitions: Steps that can never fire (steps already behind a lane's
            status are not counted).
        sound: Option to complete, proper completion and no dead transitions.
        drive_completes: ``drive()`` alone (no manual firing) reaches the end.
        manual_gates: Manual steps between the run's status and its end, where ``drive()``
            stops until someone fires them.
        gates_after_end: Manual steps after the end (``drive()`` never needs them).
        reasons: Why it is not sound or ``drive()`` does not complete, one line each,
            naming the object, the rule and what to do.
        proof: The argument, in words.
        behaviour: The reachability-graph check, when asked for.
        agrees: Whether ``behaviour`` confirms the proof (None without it, or when the
            graph was cut at ``max_states``).
    """

    run_id: str
    template: str
    status: str
    slices: int
    dependency_edges: int
    places: int
    transitions: int
    arcs: int
    acyclic: bool
    cycle: tuple[str, ...]
    frontier: str
    safe: bool
    conflict_free: bool
    option_to_complete: bool
    proper_completion: bool
    deadlock: bool
    dead_transitions: tuple[str, ...]
    sound: bool
    drive_completes: bool
    manual_gates: tuple[str, ...]
    gates_after_end: tuple[str, ...]
    reasons: tuple[str, ...]
    proof: str
    behaviour: Behaviour | None = None
    agrees: bool | None = None

    def to_json(self) -> dict[str, Any]:
        """This report as a JSON-ready dict."""
        out = {k: list(v) if isinstance(v, tuple) else v
               for k, v in attrs.asdict(self, recurse=False).items()}
        out["behaviour"] = self.behaviour.to_json() if self.behaviour else None
        return out


def _completable(status: Sequence[int], deps: list[tuple[int, ...]], done: int) -> list[bool]:
    """Least fixpoint: whether each slice can (still) hold its ``done`` status.

    A slice between its first step and ``done`` can; one past ``done`` never can again; one
    at its initial status can when all its dependencies can (they wait for it at ``done``).
    """
    n = len(status)
    ok = [0 < s <= done for s in status]
    waiting = [len(deps[k]) if status[k] == 0 else -1 for k in range(n)]
    dependents: list[list[int]] = [[] for _ in range(n)]
    for k in range(n):
        if status[k] == 0:
            for d in deps[k]:
                dependents[d].append(k)
    queue = [k for k in range(n) if ok[k] or waiting[k] == 0]
    for k in queue:
        ok[k] = True
    while queue:
        d = queue.pop()
        for k in dependents[d]:
            waiting[k] -= 1
            if waiting[k] == 0 and not ok[k]:
                ok[k] = True
                queue.append(k)
    return ok


def _cycle(deps: list[tuple[int, ...]], sorted_ok: list[bool]) -> list[int]:
    """A dependency cycle as a closed path ``[a, b, ..., a]`` (a depends on b), or [].

    ``sorted_ok`` is Kahn's result (:func:`_completable` from all-initial statuses): a slice
    left out has a dependency also left out, so following those must close a cycle.
    """
    k = next((k for k, ok in enumerate(sorted_ok) if not ok), None)
    if k is None:
        return []
    where: dict[int, int] = {}
    path: list[int] = []
    while k not in where:
        where[k] = len(path)
        path.append(k)
        k = next(d for d in deps[k] if not sorted_ok[d])
    return [*path[where[k]:], k]


def _positions(run: Run, template: Template) -> tuple[int, list[int]]:
    rl, sl = template.run, template.slice
    try:
        r = rl.position(run.status)
    except KeyError:
        raise RunFileError(f"run status {run.status!r} is not a status of template "
                           f"{template.name!r} ({', '.join(rl.statuses)}); use one of them",
                           json_path="status") from None
    out = []
    for k, s in enumerate(run.slices):
        try:
            out.append(sl.position(s.status))
        except KeyError:
            raise RunFileError(f"slice {s.id!r} status {s.status!r} is not a slice status "
                               f"of template {template.name!r} ({', '.join(sl.statuses)})",
                               json_path=f"slices[{k}].status") from None
    return r, out


def run_goal(run: Run, template: Template) -> Goal:
    """Final markings, proper completion and passed steps of a compiled run.

    Args:
        run: The run.
        template: Its template.

    Returns:
        Final: the run lane at or past its end. Improper: final while a slice is before
        ``done``. Passed: steps behind their lane's current status.
    """
    rl, sl = template.run, template.slice
    e, d = rl.position(rl.end), sl.position(sl.end)
    finals = [f"run:{s}" for s in rl.statuses[e:]]
    early = [[f"slice:{s.id}:{x}" for x in sl.statuses[:d]] for s in run.slices]

    def is_final(m: Marking) -> bool:
        return any(m.get(p, 0) for p in finals)

    def improper(m: Marking) -> bool:
        return is_final(m) and any(m.get(p, 0) for ps in early for p in ps)

    r, pos = _positions(run, template)
    passed = {st.name for st in rl.steps[:r]}
    for s, k in zip(run.slices, pos, strict=True):
        passed.update(f"{st.name}:{s.id}" for st in sl.steps[:k])
    return Goal(is_final=is_final, improper=improper, passed=frozenset(passed),
                final_any=frozenset(finals),
                improper_any=frozenset(p for ps in early for p in ps))


def analyze_run(run: Run, *, template: Template | None = None, behavioural: bool = False,
                max_states: int = DEFAULT_MAX_STATES,
                max_memory: int = DEFAULT_MAX_MEMORY) -> RunAnalysis:
    """Decide whether ``run`` can finish, by structural proof (linear time).

    Args:
        run: The run (need not be validated: cycles and inconsistent statuses are reported,
            not refused).
        template: Its template (looked up by ``run.template`` when None).
        behavioural: Also build the reachability graph of the compiled net and check that
            it confirms the proof (exponential in the number of concurrent slices: for
            small runs and tests).
        max_states: Bound for the behavioural check.
        max_memory: Bound on the bytes its state space may take (estimated).

    Returns:
        The :class:`RunAnalysis`.

    Raises:
        TemplateError: The template cannot be found.
        RunFileError: A status is not in the template.
    """
    tpl = template or load_template(run.template)
    with gc_paused():  # millions of small acyclic objects: keep the cost linear
        report = _prove(run, tpl)
    if not behavioural:
        return report
    b = behaviour(compile_run(run, template=tpl), marking_of(run), run_goal(run, tpl),
                  max_states=max_states, max_memory=max_memory)
    return attrs.evolve(report, behaviour=b, agrees=_agrees(report, b))


def _prove(run: Run, tpl: Template) -> RunAnalysis:
    rl, sl = tpl.run, tpl.slice
    r, s = _positions(run, tpl)
    f, e, d = rl.position(rl.frontier or rl.initial), rl.position(rl.end), sl.position(sl.end)
    last = len(sl.statuses) - 1
    deps = dependencies(run)
    n, ids = len(run.slices), [x.id for x in run.slices]
    kahn = _completable([0] * n, deps, d)  # all True iff the dependencies are acyclic
    cycle = tuple(ids[k] for k in _cycle(deps, kahn))
    reasons: list[str] = []
    dead_slices: list[int] = []
    run_dead_from: int | None = None
    option = proper = True
    deadlock = False
    if r > f:
        early = [k for k in range(n) if s[k] < d]
        proper = not early
        dead_slices = [k for k in early if s[k] == 0]
        for k in early:
            fate = ("it can never start (its first step reads run:" f"{rl.statuses[f]})"
                    if s[k] == 0 else f"the run can reach {rl.end!r} before it is done")
            reasons.append(
                f"slice {ids[k]!r} is {sl.statuses[s[k]]!r} but the run is {run.status!r}, "
                f"past the frontier {rl.statuses[f]!r}: {fate}; complete the slice or move "
                "the run back to the frontier")
    elif n:
        past = [k for k in range(n) if s[k] > d]  # only when done is not the last status
        ok = kahn if all(kahn) and not past else _completable(s, deps, d)
        stuck = [k for k in range(n) if not ok[k] and s[k] == 0]
        dead_slices = stuck
        if stuck:
            option, deadlock = False, True
            if cycle:
                reasons.append(f"dependency cycle {' -> '.join(cycle)}: none of these slices "
                               "can start; remove one of these dependencies")
            reasons.append(f"{len(stuck)} slice(s) can never start ({_names(ids, stuck)}), "
                           f"so the run deadlocks at {rl.statuses[f]!r}")
        if d != last:
            option, deadlock = False, True
            reasons.append(
                f"template {tpl.name!r}: the slice lane continues past its done status "
                f"{sl.end!r} (step {sl.steps[d].name!r}): a slice that takes it no longer "
                f"marks slice:<id>:{sl.end}, which run step {rl.steps[f].name!r} and "
                f"dependent slices read, so the run can deadlock at {rl.statuses[f]!r}; make "
                f"{sl.end!r} the last status of the slice lane")
            if past:
                run_dead_from = f
        if stuck:
            run_dead_from = f
    dead = _dead(rl, sl, run, s, dead_slices, run_dead_from)
    if dead and not reasons:
        reasons.append(f"dead steps: {', '.join(dead[:5])}")
    sound = option and proper and not dead
    gates = tuple(st.name for j, st in enumerate(rl.steps) if st.manual and r <= j < e)
    after = tuple(st.name for j, st in enumerate(rl.steps) if st.manual and j >= e)
    drive_ok = r >= e or (option and not gates)
    if gates and r < e:
        g = gates[0]
        at = rl.statuses[[st.name for st in rl.steps].index(g)]
        reasons.append(f"drive() stops before manual gate {g!r} (run status {at!r}) and "
                       f"reports deadlocked there; fire it by hand (petri-exec fire RUN {g}), "
                       "then drive again")
    edges = sum(len(x) for x in deps)
    nr, ns = len(rl.statuses), len(sl.statuses)
    return RunAnalysis(
        run_id=run.run_id, template=tpl.name, status=run.status, slices=n,
        dependency_edges=edges, places=nr + n * ns, transitions=nr - 1 + n * (ns - 1),
        arcs=2 * (nr - 1) + 2 * n * (ns - 1) + 2 * n + edges,
        acyclic=not cycle, cycle=cycle,
        frontier="ahead" if r < f else ("held" if r == f else "passed"),
        safe=True, conflict_free=True, option_to_complete=option,
        proper_completion=proper, deadlock=deadlock, dead_transitions=tuple(dead),
        sound=sound, drive_completes=drive_ok, manual_gates=gates, gates_after_end=after,
        reasons=tuple(reasons), proof=_proof(tpl, r, f, e, sound, n),
    )


def _names(ids: list[str], ks: list[int]) -> str:
    shown = ", ".join(ids[k] for k in ks[:5])
    return shown + (f" and {len(ks) - 5} more" if len(ks) > 5 else "")


def _dead(rl: Lane, sl: Lane, run: Run, s: list[int], dead_slices: list[int],
          run_from: int | None) -> list[str]:
    out = [st.name for st in rl.steps[run_from:]] if run_from is not None else []
    for k in dead_slices:
        out.extend(f"{st.name}:{run.slices[k].id}" for st in sl.steps[s[k]:])
    return out


def _proof(tpl: Template, r: int, f: int, e: int, sound: bool, n: int) -> str:
    rl = tpl.run
    safe = ("each lane is a linear chain holding one token (a place invariant: 1-safe) and "
            "each place is consumed by one step (conflict-free)")
    if r >= e:
        return f"the run is at or past its end {rl.end!r}: every reachable marking is final; {safe}"
    if r > f:
        return (f"the run is past the frontier {rl.statuses[f]!r} and its remaining steps read "
                f"nothing, so it reaches {rl.end!r}; {safe}")
    if not sound:
        return (f"the run reaches the frontier {rl.statuses[f]!r}, where the reasons below "
                f"apply; {safe}")
    return (f"dependencies are acyclic, both lanes are linear chains and every slice's first "
            f"step reads the frontier {rl.statuses[f]!r}, which the run reaches: the {n} "
            f"slice(s) reach {tpl.slice.end!r} in dependency order (the last status of their "
            f"lane), then {rl.steps[f].name!r} fires and the run reaches {rl.end!r}; {safe}")


def _agrees(p: RunAnalysis, b: Behaviour) -> bool | None:
    if not b.complete:
        return None
    return (b.option_to_complete == p.option_to_complete
            and b.proper_completion == p.proper_completion
            and (b.deadlock_count > 0) == p.deadlock
            and set(b.dead_transitions or ()) == set(p.dead_transitions)
            and b.drive_completes == p.drive_completes
            and b.safe is True)

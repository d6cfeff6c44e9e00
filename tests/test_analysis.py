"""Analysis: structure, the reachability graph, the run proof, and why.

The central property: on small runs of several templates (a manual gate before the end, a
slice lane that continues past done, a frontier at the initial status), with arbitrary
statuses and dependencies (cycles included), the structural proof of ``analyze_run`` and
the behavioural check on the reachability graph agree on every verdict.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import petri_exec as pe
from petri_exec.analysis.reachability import behaviour
from petri_exec.analysis.runproof import run_goal
from petri_exec.analysis.structure import structure
from petri_exec.cli import main
from petri_exec.run.templates import parse_template
from petri_exec.testing import FakePorts

from .net_strategies import general_nets

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _template(name: str, run: dict[str, Any], slc: dict[str, Any]) -> pe.Template:
    return parse_template({"name": name, "run": run, "slice": slc}, source=f"<{name}>")


def _steps(chain: list[str], names: list[str],
           manual: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [{"name": n, "from": a, "to": b, **({"manual": True} if n in manual else {})}
            for n, a, b in zip(names, chain, chain[1:], strict=False)]


GATED = _template(  # a manual gate before the end: drive() stops there
    "gated",
    {"initial": "created", "frontier": "open", "end": "done",
     "steps": _steps(["created", "open", "closed", "done"], ["open_up", "close", "approve"],
                     manual=("approve",))},
    {"initial": "todo", "done": "done", "steps": _steps(["todo", "done"], ["work"])},
)
ARCHIVE = _template(  # the slice lane continues past done: unsound
    "archive",
    {"initial": "created", "frontier": "running", "end": "finished",
     "steps": _steps(["created", "running", "finished"], ["start", "finish"])},
    {"initial": "pending", "done": "done",
     "steps": _steps(["pending", "done", "archived"], ["execute", "archive"])},
)
EARLY = _template(  # frontier at the initial status, a manual gate after the end
    "early",
    {"initial": "created", "frontier": "created", "end": "shipped",
     "steps": _steps(["created", "built", "shipped", "announced"],
                     ["build", "ship", "announce"], manual=("announce",))},
    {"initial": "todo", "done": "done",
     "steps": _steps(["todo", "doing", "done"], ["begin", "end"])},
)
TEMPLATES = {"minimal": (pe.load_template("minimal"), 4),
             "executor": (pe.load_template("executor"), 2),
             "gated": (GATED, 3), "archive": (ARCHIVE, 3), "early": (EARLY, 3)}


@st.composite
def any_runs(draw: st.DrawFn) -> tuple[pe.Run, pe.Template]:
    """Small runs in any state: arbitrary statuses and dependencies (cycles too)."""
    tpl, most = TEMPLATES[draw(st.sampled_from(sorted(TEMPLATES)))]
    n = draw(st.integers(0, most))
    ids = [f"s{i}" for i in range(n)]
    slices = tuple(
        pe.Slice(ids[i], status=draw(st.sampled_from(tpl.slice.statuses)),
                 depends_on=tuple(draw(st.lists(st.sampled_from(ids), max_size=2, unique=True))))
        for i in range(n))
    run = pe.Run(run_id="any", template=tpl.name, status=draw(st.sampled_from(tpl.run.statuses)),
                 slices=slices)
    return run, tpl


@FAST
@given(any_runs())
def test_structural_proof_agrees_with_the_reachability_graph(case: tuple[pe.Run, pe.Template]
                                                             ) -> None:
    run, tpl = case
    a = pe.analyze_run(run, template=tpl, behavioural=True)
    b = a.behaviour
    assert b is not None and b.complete
    assert b.option_to_complete == a.option_to_complete
    assert b.proper_completion == a.proper_completion
    assert (b.deadlock_count > 0) == a.deadlock
    assert set(b.dead_transitions or ()) == set(a.dead_transitions)
    assert b.drive_completes == a.drive_completes
    assert b.safe is True and b.bound is not None and b.bound <= 1
    assert a.agrees is True
    assert a.sound == (a.option_to_complete and a.proper_completion and not a.dead_transitions)
    net = pe.compile_run(run, template=tpl)
    assert (a.places, a.transitions) == (len(net.places), len(net.transitions))
    assert a.arcs == structure(net, pe.marking_of(run)).arcs


@FAST
@given(any_runs())
def test_why_never_is_exact_on_compiled_runs(case: tuple[pe.Run, pe.Template]) -> None:
    run, tpl = case
    net, m = pe.compile_run(run, template=tpl), pe.marking_of(run)
    a = pe.analyze_run(run, template=tpl)
    gone = set(a.dead_transitions) | run_goal(run, tpl).passed
    for t in net.transitions:
        w = pe.why(net, m, t)
        assert w.enabled == net.is_enabled(t, m)
        if w.enabled:
            continue
        assert (w.never is not None) == (t.name in gone), (t.name, w.explain())
        if w.never is None:  # the plan is exact here: firing it enables t
            state = m
            for name in w.plan:
                state = net.fire(state, name)
            assert net.is_enabled(t, state), w.explain()


def test_executor_run_is_sound_and_host_promotion_is_after_the_end() -> None:
    run = pe.Run(run_id="r", slices=(pe.Slice("api"), pe.Slice("ui", depends_on=("api",))))
    a = pe.analyze_run(run, behavioural=True)
    assert a.sound and a.drive_completes and a.agrees
    assert a.gates_after_end == ("host_promotion",) and a.manual_gates == ()
    assert a.acyclic and a.safe and a.conflict_free and a.frontier == "ahead"
    assert json.loads(json.dumps(a.to_json()))["sound"] is True


def test_manual_gate_before_the_end_is_sound_but_not_driven_to_completion() -> None:
    """A human can always fire the gate, so the net is sound; drive() never fires it, so
    the driven chain stops there and must not be reported as completing."""
    run = pe.Run(run_id="g", template="gated", slices=(pe.Slice("a", status="todo"),),
                 status="created")
    a = pe.analyze_run(run, template=GATED, behavioural=True)
    assert a.sound is True and a.drive_completes is False
    assert a.manual_gates == ("approve",)
    assert any("manual gate 'approve'" in r for r in a.reasons)
    assert a.behaviour is not None and a.agrees
    (stop,) = a.behaviour.drive_stops
    assert stop.enabled == ("approve",) and stop.path[-1] == "close"
    past = pe.Run(run_id="g", template="gated", status="done",
                  slices=(pe.Slice("a", status="done"),))
    assert pe.analyze_run(past, template=GATED).drive_completes is True


def test_slice_lane_past_done_is_unsound() -> None:
    run = pe.Run(run_id="x", template="archive", slices=(pe.Slice("a"), pe.Slice("b")))
    a = pe.analyze_run(run, template=ARCHIVE, behavioural=True)
    assert not a.sound and a.deadlock and not a.option_to_complete and a.agrees
    assert any("continues past its done status 'done'" in r for r in a.reasons)
    assert a.behaviour is not None and a.behaviour.deadlocks[0].path[-1].startswith("archive:")


def test_cycle_is_reported_as_a_path_with_the_slices_it_blocks() -> None:
    run = pe.Run(run_id="c", template="minimal",
                 slices=(pe.Slice("a", depends_on=("b",)), pe.Slice("b", depends_on=("a",)),
                         pe.Slice("c", depends_on=("a",)), pe.Slice("d")))
    a = pe.analyze_run(run, behavioural=True)
    assert a.cycle == ("a", "b", "a") and not a.acyclic and a.deadlock and a.agrees
    assert set(a.dead_transitions) == {"finish", "execute:a", "execute:b", "execute:c"}
    assert "dependency cycle a -> b -> a" in a.reasons[0]


def test_slices_left_behind_the_frontier_are_dead_and_improper() -> None:
    run = pe.Run(run_id="p", template="minimal", status="done",
                 slices=(pe.Slice("a", status="pending"), pe.Slice("b", status="done")))
    a = pe.analyze_run(run, behavioural=True)
    assert a.option_to_complete and not a.proper_completion and not a.sound and a.agrees
    assert a.dead_transitions == ("execute:a",)
    assert a.frontier == "passed"


def test_proof_on_100000_slices_builds_neither_net_nor_state_space(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import petri_exec.analysis.runproof as proof

    def refuse(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("the proof must not build the net or its state space")

    monkeypatch.setattr(proof, "compile_run", refuse)
    monkeypatch.setattr(proof, "behaviour", refuse)
    n = 100_000
    slices = tuple(pe.Slice(f"s{i}", depends_on=(f"s{i // 2}", f"s{i - 1}") if i > 2 else ())
                   for i in range(n))
    a = pe.analyze_run(pe.Run(run_id="big", template="minimal", slices=slices))
    assert a.sound and a.slices == n and a.dependency_edges == 2 * (n - 3)
    assert a.transitions == 2 + n and a.places == 3 + 2 * n


# --- general nets ---------------------------------------------------------------------

def _net(places: str, arcs: dict[str, tuple[str, str, str]]) -> pe.Net:
    """``arcs``: transition -> (consumed, produced, read) as 'p q2' (place, optional weight)."""
    ps = places.split()

    def parse(spec: str) -> list[tuple[int, int]]:
        out = []
        for item in spec.split():
            name = item.rstrip("0123456789")
            out.append((ps.index(name), int(item[len(name):] or 1)))
        return out

    names = list(arcs)
    return pe.Net(ps, [pe.Transition(n, n) for n in names],
                  [parse(arcs[n][0]) for n in names], [parse(arcs[n][1]) for n in names],
                  [parse(arcs[n][2]) for n in names], name="g")


def test_sound_workflow_net_with_parallel_branches() -> None:
    net = _net("i a b c d o", {"split": ("i", "a b", ""), "left": ("a", "c", ""),
                               "right": ("b", "d", ""), "join": ("c d", "o", "")})
    a = pe.analyze(net, {"i": 1}, final={"o": 1})
    assert a.sound is True and a.problems == ()
    # 2i + a + b + c + d + 2o is invariant, but not with unit weights: only the state
    # space proves safeness here
    assert a.structure.safe is None and a.structure.conflicts == ()
    b = a.behaviour
    assert b is not None and b.states == 6 and b.deadlock_count == 0 and b.bound == 1
    assert b.safe is True


def test_deadlock_improper_completion_and_dead_transitions() -> None:
    # choice: 'bad' leads to a dead end; 'dup' finishes with a token left over
    net = _net("i p q o x", {"good": ("i", "p", ""), "bad": ("i", "q", ""),
                             "end": ("p", "o", ""), "dup": ("p", "o x", ""),
                             "never": ("x2", "o", "")})
    a = pe.analyze(net, {"i": 1}, final={"o": 1})
    b = a.behaviour
    assert b is not None and a.sound is False
    assert b.deadlock_count == 2 and b.deadlocks[0].path == ("bad",)
    assert b.deadlocks[1].path == ("good", "dup")  # {o, x}: 'never' needs two x
    assert b.option_to_complete is False and b.proper_completion is False
    assert b.improper is not None and b.improper.path == ("good", "dup")
    assert b.dead_transitions == ("never",)
    assert [c.place for c in a.structure.conflicts] == ["i", "p"]
    assert any(p.startswith("deadlock: after bad") for p in a.problems)


def test_unbounded_net_is_detected_with_a_pumping_sequence() -> None:
    net = _net("a p", {"gen": ("a", "a p", ""), "stop": ("a", "", "")})
    a = pe.analyze(net, {"a": 1}, final={})
    b = a.behaviour
    assert b is not None and b.bounded is False and b.unbounded == ("p",)
    assert b.pump is not None and b.pump.pump == ("gen",) and a.sound is False
    assert b.limit is not None and "unbounded" in b.limit
    assert a.structure.bounded is None


def test_state_bound_is_reported_clearly() -> None:
    net = _net("a b c", {"x": ("a", "b", ""), "y": ("b", "c", ""), "z": ("c", "a", "")})
    a = pe.analyze(net, {"a": 6}, final={"c": 6}, max_states=5)
    b = a.behaviour
    assert b is not None and not b.complete and b.states == 5
    assert b.limit is not None and "max_states=5" in b.limit and a.sound is None
    assert b.option_to_complete is None and b.dead_transitions is None
    with pytest.raises(ValueError, match="max_states=0"):
        pe.analyze(net, {"a": 1}, max_states=0)


def test_final_as_several_markings_or_a_predicate_and_none() -> None:
    net = _net("i l r", {"left": ("i", "l", ""), "right": ("i", "r", "")})
    assert pe.analyze(net, {"i": 1}, final=[{"l": 1}, {"r": 1}]).sound is True
    assert pe.analyze(net, {"i": 1}, final=lambda m: not m.get("i")).sound is True
    a = pe.analyze(net, {"i": 1}, final={"l": 1})
    assert a.sound is False and a.behaviour is not None and a.behaviour.deadlock_count == 1
    none = pe.analyze(net, {"i": 1})
    assert none.sound is None and none.behaviour is not None
    assert none.behaviour.deadlock_count == 2  # without final markings every dead end counts
    assert "sound: unknown" in none.summary()


def test_structure_of_a_compiled_run() -> None:
    run = pe.Run(run_id="r", template="minimal", status="running",
                 slices=(pe.Slice("a", status="done"), pe.Slice("b", depends_on=("a",))))
    net = pe.compile_run(run)
    s = structure(net, pe.marking_of(run))
    assert s.safe is True and s.bound == 1 and s.conflicts == ()
    assert s.dead_transitions == ("start", "execute:a")  # already behind their status
    assert "run:created" in s.unproduced_places and "run:created" in s.unmarkable_places


@FAST
@given(general_nets(max_places=4, max_transitions=4, max_tokens=2))
def test_why_never_and_structural_dead_are_never_wrong(case: tuple[pe.Net, pe.Marking]
                                                        ) -> None:
    net, m = case
    b = behaviour(net, m, max_states=400)
    fired = {key for _i, _j, key in pe.analysis.reachability.reachability_graph(
        net, m, max_states=400)[0].edges(keys=True)}
    for t in net.transitions:
        w = pe.why(net, m, t)
        assert w.enabled == net.is_enabled(t, m)
        if w.never is not None or t.name in structure(net, m).dead_transitions:
            assert t.name not in fired, w.explain()
    if b.complete:
        assert b.bounded is True


def test_why_weights_invariants_and_choice() -> None:
    net = _net("a b c x y", {"feed": ("a", "b2", ""), "use": ("b3", "c", ""),
                             "cheap": ("x", "y", ""), "dear": ("c", "y", ""),
                             "goal": ("y", "", "")})
    w = pe.why(net, {"a": 5, "x": 1}, "use")
    assert not w.enabled and w.plan == ("feed", "feed") and w.needs[0].chain == ("feed", "feed")
    assert "fire first, in order (2 steps): feed, feed" in w.explain()
    w = pe.why(net, {"a": 5, "x": 1}, "goal")
    assert w.plan == ("cheap",)
    ring = _net("x z", {"flip": ("x", "z", ""), "flop": ("z", "x", ""),
                        "twice": ("z2", "x2", "")})  # x + z is invariant: one token
    w = pe.why(ring, {"x": 1}, "twice")
    assert w.never == "z can hold at most 1 token(s) (a place invariant) but 2 are needed"
    assert "twice can never fire" in w.explain()
    assert pe.why(net, {"y": 1}, "goal").enabled
    with pytest.raises(pe.UnknownTransitionError, match="did you mean 'goal'"):
        pe.why(net, {}, "gaol")


# --- command line ---------------------------------------------------------------------

def _write(tmp_path: Path, doc: dict[str, Any]) -> str:
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"version": 1, **doc}))
    return str(path)


def test_cli_check_sound_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, {"run_id": "c", "slices": [{"id": "api"},
                                                       {"id": "ui", "depends_on": ["api"]}]})
    assert main(["check", path]) == 0
    out = capsys.readouterr().out
    assert "sound: yes" in out and "verdict: sound" in out and "host_promotion" in out
    assert main(["check", path, "--json", "--behavioural", "--max-states", "1000"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["sound"] is True and doc["valid"] is True and doc["agrees"] is True
    assert doc["exit"] == 0 and doc["behaviour"]["states"] == 20


def test_cli_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    nets = tmp_path / "nets"
    nets.mkdir()
    for tpl in ("gated", "archive"):
        (nets / f"{tpl}.toml").write_text(TOML[tpl])
    monkeypatch.setenv("PETRI_EXEC_TEMPLATE_PATH", str(nets))
    path = _write(tmp_path, {"run_id": "g", "template": "gated", "slices": [{"id": "a"}]})
    assert main(["check", path]) == 4
    out = capsys.readouterr().out
    assert "manual gate 'approve'" in out and "--allow-manual" in out
    assert main(["check", path, "--allow-manual"]) == 0
    capsys.readouterr()
    assert pe.drive(path, FakePorts()).status == "deadlocked"  # as check predicted
    pe.journal_path(path).unlink()  # the next run is another run: its own journal
    path = _write(tmp_path, {"run_id": "a", "template": "archive", "slices": [{"id": "a"}]})
    assert main(["check", path]) == 4
    assert "verdict: NOT sound" in capsys.readouterr().out
    path = _write(tmp_path, {"run_id": "x", "slices": [{"id": "a", "depends_on": ["b"]},
                                                       {"id": "b", "depends_on": ["a"]}]})
    assert main(["check", path]) == 2
    assert "dependency cycle" in capsys.readouterr().err


def test_cli_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, {"run_id": "w", "status": "run_completed",
                             "slices": [{"id": "api", "status": "completed"}]})
    assert main(["why", path, "slice_start:api"]) == 0
    out = capsys.readouterr().out
    assert "never: slice 'api' is already past 'pending' (now 'completed')" in out
    assert "never: run is already past 'reports_initialized'" in out and "can never fire" in out
    assert main(["why", path, "petri_export", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["enabled"] is True


TOML = {
    "gated": (Path(__file__).parent / "nets" / "gated.toml").read_text(),
    "archive": (Path(__file__).parent / "nets" / "archive.toml").read_text(),
}

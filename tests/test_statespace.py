"""Compact state spaces and the contest's properties, against the contest's published values.

``tests/nets/thirdparty/mcc/results.json`` holds the Model Checking Contest 2025 values of
each shipped model (state and firing counts, the most tokens in a place and in a marking,
and the GlobalProperties verdicts); every one must come out exactly. The explorer is also
held to a straightforward explorer on random general nets.
"""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

import petri_exec as pe
from petri_exec.analysis import behaviour, explore

from .net_strategies import general_nets

MCC = Path(__file__).resolve().parent / "nets" / "thirdparty" / "mcc"
RESULTS = json.loads((MCC / "results.json").read_text())["models"]
FAST = sorted(m for m, r in RESULTS.items() if r["states"] <= 10_000)
LARGE = sorted(m for m, r in RESULTS.items() if r["states"] > 10_000)


def _published(name: str) -> dict[str, object]:
    net, m = pe.from_pnml(MCC / f"{name}.pnml")
    b = behaviour(net, m, max_states=10**6)
    p = b.properties
    assert p is not None and b.complete
    return {"states": b.states, "edges": b.edges, "max_tokens_in_place": p.max_tokens_in_place,
            "max_tokens_per_marking": p.max_tokens_per_marking,
            "ReachabilityDeadlock": p.deadlock, "Liveness": p.live,
            "QuasiLiveness": p.quasi_live, "StableMarking": p.stable_marking,
            "OneSafe": p.one_safe}


@pytest.mark.parametrize("name", FAST)
def test_contest_values_are_reproduced(name: str) -> None:
    assert _published(name) == RESULTS[name]


@pytest.mark.slow
@pytest.mark.parametrize("name", LARGE)
def test_contest_values_are_reproduced_on_large_models(name: str) -> None:
    assert _published(name) == RESULTS[name]


def test_the_shipped_models_cover_every_verdict() -> None:
    for key in ("ReachabilityDeadlock", "Liveness", "QuasiLiveness", "StableMarking",
                "OneSafe"):
        assert {r[key] for r in RESULTS.values()} == {True, False}, key


def _straightforward(net: pe.Net, m: pe.Marking) -> tuple[set[pe.Marking], int]:
    seen = {m}
    queue = deque([m])
    edges = 0
    while queue:
        x = queue.popleft()
        for t in net.enabled(x):
            y = net.fire(x, t)
            edges += 1
            if y not in seen:
                seen.add(y)
                queue.append(y)
    return seen, edges


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(general_nets(max_places=5, max_transitions=5, max_tokens=3))
def test_explorer_equals_a_straightforward_one(case: tuple[pe.Net, pe.Marking]) -> None:
    net, m = case
    ss = explore(net, m, max_states=2000)
    if not ss.complete:
        return
    markings, edges = _straightforward(net, m)
    assert {ss.marking(i) for i in range(ss.states)} == markings and ss.edges == edges
    for i in range(ss.states):  # every state's path leads to it, every firing is real
        mk = m
        for name in ss.path(i):
            mk = net.fire(mk, name)
        assert mk == ss.marking(i)
    for i in range(ss.expanded):
        for t, j in ss.successors(i):
            assert net.fire(ss.marking(i), net.transitions[t]) == ss.marking(j)


def _net(spec: dict[str, tuple[str, str]], places: str) -> pe.Net:
    names = places.split()
    ts = list(spec)

    def arcs(text: str) -> list[tuple[int, int]]:
        out: dict[int, int] = {}
        for p in text.split():
            out[names.index(p)] = out.get(names.index(p), 0) + 1
        return list(out.items())

    return pe.Net(names, [pe.Transition(t, t) for t in ts], [arcs(spec[t][0]) for t in ts],
                  [arcs(spec[t][1]) for t in ts], [[] for _ in ts], name="n")


def test_counts_past_a_byte_switch_to_wide_vectors() -> None:
    net = _net({"add": ("src", "src acc")}, "src acc stop")
    ss = explore(net, pe.Marking({"src": 1}), max_states=400)
    assert not ss.complete and ss.unbounded == (1,)  # found unbounded, witness kept
    net = _net({"move": ("a", "b")}, "a b")
    ss = explore(net, pe.Marking({"a": 300}), max_states=1000)
    assert ss.complete and ss.states == 301 and isinstance(ss.markings[0], tuple)
    net = _net({"fill": ("a", "b b b")}, "a b")
    ss = explore(net, pe.Marking({"a": 100}), max_states=1000)
    assert ss.complete and ss.states == 101 and ss.marking(100) == {"b": 300}
    assert isinstance(ss.markings[0], tuple)  # restarted wide when b passed 255


def test_properties_and_their_witnesses() -> None:
    # a cycle a -> b -> a with a side exit to a trap: not live, quasi-live, 'k' stable
    net = _net({"go": ("a k", "b k"), "back": ("b", "a"), "trap": ("b", "c")}, "a b c k")
    p = behaviour(net, pe.Marking({"a": 1, "k": 1})).properties
    assert p is not None
    assert p.live is False and p.not_live == ("go", "back", "trap")
    assert p.live_witness is not None and p.live_witness.path == ("go", "trap")
    assert p.quasi_live is True and p.never_fired == ()
    assert p.stable_places == ("k",) and p.stable_marking is True
    assert p.one_safe is True and p.max_tokens_in_place == 1
    assert p.max_tokens_per_marking == 2 and p.deadlock is True
    assert p.deadlock_witness is not None and p.deadlock_witness.path == ("go", "trap")
    # two tokens meet: not one-safe, with the first marking that shows it
    net = _net({"join": ("x", "y"), "also": ("z", "y")}, "x y z")
    p = behaviour(net, pe.Marking({"x": 1, "z": 1})).properties
    assert p is not None and p.one_safe is False
    assert p.unsafe is not None and p.unsafe.path == ("join", "also")
    assert p.max_place == "y" and p.max_tokens_in_place == 2
    # a live cycle
    net = _net({"go": ("a", "b"), "back": ("b", "a")}, "a b")
    p = behaviour(net, pe.Marking({"a": 1})).properties
    assert p is not None and p.live is True and p.deadlock is False
    assert p.stable_places == () and p.stable_marking is False
    assert "live: yes" in pe.analyze(net, {"a": 1}).summary()


def test_memory_bound_stops_with_a_clear_message() -> None:
    run = pe.Run(run_id="chain", template="minimal", slices=tuple(
        pe.Slice(f"s{i}", depends_on=(f"s{i - 1}",) if i else ()) for i in range(20_000)))
    net, m = pe.compile_run(run), pe.marking_of(run)
    ss = explore(net, m, max_states=1000, max_memory=4 * 2**20)
    assert not ss.complete and ss.limit is not None
    assert ss.limit.startswith("the state space needs more than max_memory=4,194,304 bytes: ")
    assert "markings of 40,003 places" in ss.limit and "--max-memory" in ss.limit
    assert ss.states * (len(net.places) + 33) <= 4 * 2**20
    # the whole check stays linear: the work is a small multiple of states x places
    assert ss.work <= 4 * (ss.states + 1) * (len(net.places) + len(net.transitions))
    b = pe.analyze_run(run, behavioural=True, max_states=1000, max_memory=4 * 2**20)
    assert b.behaviour is not None and b.behaviour.limit == ss.limit and b.agrees is None


def test_cli_check_refuses_a_bound_below_one(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from petri_exec.cli import main

    path = tmp_path / "run.json"
    path.write_text('{"version": 1, "run_id": "r", "slices": [{"id": "a"}]}')
    for option in ("--max-states", "--max-memory"):
        with pytest.raises(SystemExit) as info:
            main(["check", str(path), "--behavioural", option, "-1"])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"argument {option}: -1 is below 1" in err
    assert main(["check", str(path), "--behavioural"]) == 0
    out = capsys.readouterr().out
    assert "  properties: live: no" in out and "1-safe: yes" in out

"""The compiled run net and its fast state agree with the general net and NetState."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import petri_exec as pe
from petri_exec.core import RunNet, RunState
from petri_exec.core.netstate import NetState
from petri_exec.testing import runs

NETS = Path(__file__).parent / "nets"


def _built(net: RunNet) -> bool:
    try:
        object.__getattribute__(net, "consume")
    except AttributeError:
        return False
    return True


def _same(fast: NetState, slow: NetState, net: pe.Net) -> None:
    assert fast.get_ready() == slow.get_ready()
    assert fast.marking() == slow.marking()
    for t in net.transitions:
        assert fast.is_enabled(t) == slow.is_enabled(t), t
        assert fast.missing(t) == slow.missing(t), t
    for place in net.places:
        assert fast.tokens(place) == slow.tokens(place), place


@settings(max_examples=150, deadline=None)
@given(data=st.data(), linear=st.booleans(),
       template=st.sampled_from(["minimal", "executor", "gated", "archive"]))
def test_run_state_agrees_with_the_general_state(
    data: st.DataObject, linear: bool, template: str
) -> None:
    run = data.draw(runs(max_slices=6, templates=(template,), template_dirs=[NETS]))
    tpl = pe.load_template(template, [NETS])
    net = pe.compile_run(run, template=tpl, linear=linear)
    assert isinstance(net, RunNet)
    fast = net.state(pe.marking_of(run))
    assert isinstance(fast, RunState)
    assert not _built(net)  # the fast state needs none of the general arrays
    slow = NetState(net, pe.marking_of(run))
    assert _built(net)
    _same(fast, slow, net)
    for _ in range(data.draw(st.integers(0, 40))):
        enabled = [t for t in net.transitions if slow.is_enabled(t)]  # manual ones too
        if not enabled:
            break
        t = data.draw(st.sampled_from(enabled))
        fast.fire(t)
        slow.fire(t)
        _same(fast, slow, net)
        # starting afresh at the marking reached gives the same state again
        _same(net.state(slow.marking()), NetState(net, slow.marking()), net)
    disabled = [t for t in net.transitions if not slow.is_enabled(t)]
    for t in disabled[:3]:
        with pytest.raises(pe.NotEnabledError) as fast_err:
            fast.fire(t)
        with pytest.raises(pe.NotEnabledError) as slow_err:
            slow.fire(t)
        assert str(fast_err.value) == str(slow_err.value)


@settings(max_examples=60, deadline=None)
@given(run=runs(max_slices=6), linear=st.booleans())
def test_lazy_arrays_match_an_independent_build(run: pe.Run, linear: bool) -> None:
    """The general arrays built on first use are the net the compiler documents."""
    net = pe.compile_run(run, linear=linear)
    tpl = pe.load_template(run.template)
    places = [f"run:{s}" for s in tpl.run.statuses] + [
        f"slice:{sl.id}:{s}" for sl in run.slices for s in tpl.slice.statuses]
    assert list(net.places) == places
    idx = {p: i for i, p in enumerate(places)}
    for t in net.transitions:
        lane = tpl.run if t.slice_id is None else tpl.slice
        step = next(st for st in lane.steps if st.name == t.step)
        prefix = "run:" if t.slice_id is None else f"slice:{t.slice_id}:"
        assert net.consume[t.index] == ((idx[prefix + step.source], 1),)
        assert net.produce[t.index] == ((idx[prefix + step.target], 1),)
    fresh = pe.compile_run(run, linear=linear)
    for t in net.transitions:  # effects from the run's own form equal the general ones
        assert fresh.effect(t.name) == pe.Net.effect(net, t)
    assert not _built(fresh)
    assert net.transition(net.transitions[-1].name) is net.transitions[-1]
    assert repr(net).endswith(f"{len(places)} places, {len(net.transitions)} transitions)")
    copy = pe.compile_run(run, linear=linear)
    assert repr(copy) == repr(net)  # repr needs no arrays
    assert not _built(copy)


def test_markings_without_one_token_per_lane_get_the_general_state() -> None:
    run = pe.Run("r", (pe.Slice("a"), pe.Slice("b", depends_on=("a",))), template="minimal")
    net = pe.compile_run(run)
    two = dict(pe.marking_of(run))
    two["slice:a:done"] = 1  # a's lane now holds two tokens
    state = net.state(two)
    assert type(state) is NetState
    empty_lane = {k: v for k, v in pe.marking_of(run).items() if not k.startswith("slice:b")}
    assert type(net.state(empty_lane)) is NetState
    heavy = {**pe.marking_of(run), "run:created": 2}
    assert type(net.state(heavy)) is NetState
    assert net.state(heavy).tokens("run:created") == 2


@pytest.mark.parametrize("place", ["slice:zz:pending", "slice:a:nope", "run:nope",
                                   "lane:a", "slice:a:pending:x", "run"])
def test_unknown_places_are_refused_like_the_general_state(place: str) -> None:
    run = pe.Run("r", (pe.Slice("a"),), template="minimal")
    net = pe.compile_run(run)
    marking = {**pe.marking_of(run), place: 1}
    with pytest.raises(KeyError, match="not a place of Net"):
        net.state(marking)
    with pytest.raises(KeyError):
        NetState(net, marking)


def test_an_unknown_attribute_is_an_attribute_error() -> None:
    net = pe.compile_run(pe.Run("r", (), template="minimal"))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        net.nope  # noqa: B018
    assert not hasattr(net, "nope")


def test_a_drive_builds_no_general_arrays() -> None:
    """The in-memory drive's hot path uses only the run net's own form."""
    run = pe.Run("r", tuple(pe.Slice(f"s{i}", depends_on=(f"s{i - 1}",) if i else ())
                            for i in range(50)), template="minimal")
    sched = pe.PetriScheduler.for_run(run)
    session = sched.session(pe.marking_of(run))
    todo = session.get_ready()
    while todo:
        session.fire(todo.pop())
        todo.extend(session.get_ready())
    assert isinstance(sched.net, RunNet) and not _built(sched.net)
    assert session.marking()["run:done"] == 1


def test_the_run_marking_is_an_ordinary_marking() -> None:
    import pickle

    run = pe.Run("r", (pe.Slice("a"), pe.Slice("b", "done")), template="minimal",
                 status="running")
    m = pe.marking_of(run)
    assert isinstance(m, pe.RunMarking)
    plain = pe.Marking({"run:running": 1, "slice:a:pending": 1, "slice:b:done": 1})
    assert m == plain and plain == m and hash(m) == hash(plain)
    assert dict(m) == dict(plain) and len(m) == 3 and m["slice:b:done"] == 1
    assert pickle.loads(pickle.dumps(m)) == plain
    assert repr(m) == repr(plain)
    with pytest.raises(AttributeError):
        m.nope  # noqa: B018
    # a marking of another (equal) run value starts the state by parsing its places
    other = pe.marking_of(pe.Run("r", run.slices, template="minimal", status="running"))
    net = pe.compile_run(run)
    assert net.state(other).marking() == net.state(m).marking() == plain


def test_a_compiled_net_pickles() -> None:
    import pickle

    run = pe.Run("r", (pe.Slice("a"), pe.Slice("b", depends_on=("a",))), template="minimal")
    net = pe.compile_run(run)
    copy = pickle.loads(pickle.dumps(net))
    assert copy.places == net.places and copy.transitions == net.transitions
    assert copy.read == net.read


def test_the_run_state_takes_names_and_refuses_odd_places() -> None:
    run = pe.Run("r", (pe.Slice("a"),), template="minimal", status="running")
    net = pe.compile_run(run)
    state = net.state(pe.marking_of(run))
    assert state.is_enabled("execute:a") and not state.is_enabled("finish")  # type: ignore[arg-type]
    state.fire("execute:a")  # type: ignore[arg-type]
    assert state.marking()["slice:a:done"] == 1
    with pytest.raises(pe.UnknownTransitionError, match="no transition 'nope'"):
        state.fire("nope")  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="marking has tokens in 5, not a place of Net"):
        net.state({**pe.marking_of(run), 5: 1})  # type: ignore[dict-item]


def test_duplicate_slice_ids_fail_at_compile_time() -> None:
    run = pe.Run("r", (pe.Slice("a"), pe.Slice("a")), template="minimal")
    with pytest.raises(ValueError, match="slice ids must be unique; validate it first"):
        pe.compile_run(run)


def test_a_compiled_net_pickles_without_its_run() -> None:
    import pickle
    import threading

    run = pe.Run("r", (pe.Slice("a", meta={"lock": threading.Lock()}),), template="minimal")
    net = pe.compile_run(run)
    copy = pickle.loads(pickle.dumps(net))
    assert copy.transitions == net.transitions and copy.places == net.places
    assert pickle.loads(pickle.dumps(pe.marking_of(run))) == pe.marking_of(run)
    assert copy.state(pe.marking_of(run)).get_ready() == [net.transition("start")]

"""Property tests: parity, confluence, once-per-slice, SNAKES agreement, halt semantics."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import petri_exec as pe
from petri_exec.testing import FakePorts, check_scheduler

from .conftest import state_of
from .strategies import dag_runs

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _drive(run: pe.Run, scheduler: str, ports: FakePorts | None = None
           ) -> tuple[pe.DriveOutcome, list[pe.Event], FakePorts]:
    ports = ports or FakePorts()
    events: list[pe.Event] = []
    out = pe.drive(run, ports, scheduler=scheduler, on_event=events.append)
    return out, events, ports


def _fired(events: list[pe.Event]) -> list[str]:
    return [e.transition or "" for e in events if e.kind == "transition_fired"]


def test_linear_runs_petri_equals_linear_on_the_harness() -> None:
    """On a linear run both nets behave alike. On the contract harness: at every marking
    they reach, LinearScheduler returns exactly PetriScheduler's answer (completeness),
    and PetriScheduler never returns more than one transition (at_most_one) — so both
    drives fire the same sequence — and both drives end in LinearScheduler's run.json."""
    options = {"shapes": ("linear",), "max_slices": 10, "max_examples": 60}
    check_scheduler(pe.LinearScheduler, complete=True,
                    rules=["completeness", "parity", "ports_once"], **options)
    check_scheduler(pe.PetriScheduler, linear=True,
                    rules=["at_most_one", "parity", "ports_once"], **options)


@SETTINGS
@given(dag_runs(linear=True), st.data())
def test_linear_runs_petri_equals_linear(run: pe.Run, data: st.DataObject) -> None:
    """Same journals (the firing sequences), calls and run.json, also when a port fails:
    a chain leaves neither scheduler a choice. (The victim widens the example space: a
    chain alone has too few shapes for hypothesis to draw many distinct examples.)"""
    net = pe.compile_run(run)
    victim = data.draw(st.sampled_from(
        [None, *sorted(t.name for t in net.transitions if t.port and not t.manual)]),
        label="failing step")
    fail = {} if victim is None else {net.transition(victim).port or "": "injected"}
    a, ea, pa = _drive(run, "petri", FakePorts(fail=fail))
    b, eb, pb = _drive(run, "linear", FakePorts(fail=fail))
    assert a.status == b.status == ("completed" if victim is None else "halted")
    assert (a.step, a.reason) == (b.step, b.reason)
    assert _fired(ea) == _fired(eb)
    assert [e.kind for e in ea] == [e.kind for e in eb]
    assert [(c.port, c.transition) for c in pa.calls] == [(c.port, c.transition) for c in pb.calls]
    assert pe.dump_run(a.run) == pe.dump_run(b.run)


@SETTINGS
@given(dag_runs())
def test_dag_runs_confluent_once_each_and_dependencies_respected(run: pe.Run) -> None:
    a, ea, pa = _drive(run, "petri")
    b, eb, _ = _drive(run, "linear")
    assert a.status == b.status == "completed"
    assert pe.dump_run(a.run) == pe.dump_run(b.run)
    net = pe.compile_run(run)
    # the journals' firing sequences: the linear one is linear_order's, slice by slice
    tpl = pe.load_template(run.template)
    run_steps = [st.name for st in tpl.run.steps]
    frontier = [st.name for st in tpl.run.steps].index(
        next(st.name for st in tpl.run.steps if st.source == tpl.run.frontier))
    expected = run_steps[:frontier] + [
        f"{st.name}:{run.slices[k].id}" for k in pe.linear_order(run)
        for st in tpl.slice.steps if not st.manual] + run_steps[frontier:]
    assert _fired(eb) == [n for n in expected if not net.transition(n).manual]
    # the petri one is a firing sequence of the concurrent net, the same firings
    assert sorted(_fired(ea)) == sorted(_fired(eb))
    for events in (ea, eb):
        state = net.state(pe.marking_of(run))
        for name in _fired(events):
            assert state.is_enabled(net.transition(name)), name
            state.fire(net.transition(name))
    for events in (ea, eb):
        fired = _fired(events)
        assert len(fired) == len(set(fired))
        driven = {t.name for t in net.transitions if not t.manual}
        assert set(fired) == driven
        pos = {name: i for i, name in enumerate(fired)}
        deps = pe.run.model.dependencies(run)
        first = pe.load_template(run.template).slice.steps[0].name
        last = pe.load_template(run.template).slice.steps[-1].name
        for k, s in enumerate(run.slices):
            for d in deps[k]:
                assert pos[f"{last}:{run.slices[d].id}"] < pos[f"{first}:{s.id}"]
    if run.template == "executor":
        assert len(pa.calls_to("agent_runner")) == len(run.slices)
        assert len(pa.calls_to("test_runner")) == len(run.slices)


def _snakes_enabled(net: pe.Net, marking: pe.Marking) -> set[str]:
    sn = pe.to_snakes(net, marking)
    return {t.name for t in sn.transition() if t.modes()}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dag_runs(max_slices=6), st.randoms(use_true_random=False), st.booleans())
def test_ready_equals_snakes_at_reachable_markings(run: pe.Run, rnd, linear: bool) -> None:  # type: ignore[no-untyped-def]
    sched = (pe.LinearScheduler if linear else pe.PetriScheduler).for_run(run)
    net = sched.net
    m = pe.marking_of(run)
    session = sched.session(m)
    handed: set[pe.Transition] = set(session.get_ready())
    steps = 0
    while True:  # to the end of the run: every example compares at every marking it passes
        ready = sched.ready(m)
        assert sched.ready(m) == ready  # pure: same answer twice
        assert {t.name for t in ready} == {
            t for t in _snakes_enabled(net, m) if not net.transition(t).manual}
        assert handed == ready  # the incremental session agrees with ready()
        if not ready:
            break
        t = rnd.choice(sorted(ready, key=lambda t: t.index))
        before = dict(m)
        m2 = net.fire(m, t)
        assert dict(m) == before  # firing is pure on markings
        m = m2
        session.fire(t)
        handed.discard(t)
        handed.update(session.get_ready())
        assert session.marking() == m
        steps += 1
    assert steps == sum(1 for t in net.transitions if not t.manual)


@SETTINGS
@given(dag_runs(max_slices=6), st.data())
def test_failure_at_any_step_leaves_run_json_and_resume_converges(run: pe.Run, data) -> None:  # type: ignore[no-untyped-def]
    net = pe.compile_run(run)
    candidates = [t.name for t in net.transitions if t.port and not t.manual]
    assume(candidates)
    victim = data.draw(st.sampled_from(candidates))
    with tempfile.TemporaryDirectory() as d:
        clean = Path(d, "clean")
        faulty = Path(d, "faulty")
        clean.mkdir()
        faulty.mkdir()
        pe.save_run(run, clean / "run.json")
        pe.save_run(run, faulty / "run.json")
        assert pe.drive(clean / "run.json", FakePorts()).status == "completed"
        snapshots: dict[str, bytes] = {}

        def observe(e: pe.Event) -> None:
            if e.kind == "transition_started" and e.transition == victim:
                # the durable state at the attempt: run.json plus the journal's firings
                snapshots[victim] = pe.dump_run(pe.load_run(faulty / "run.json"))

        out = pe.drive(faulty / "run.json", FakePorts(fail={victim: "injected"}),
                       on_event=observe)
        expected = "promotion_failed" if victim == "promotion" else "injected"
        assert out.status == "halted" and out.step == victim and out.reason == expected
        assert (faulty / "run.json").read_bytes() == snapshots[victim]  # identity included
        resumed = pe.drive(faulty / "run.json", FakePorts())
        assert resumed.status == "completed"
        assert state_of(faulty / "run.json") == state_of(clean / "run.json")
        events, _ = pe.read_journal(pe.journal_path(faulty / "run.json"))
        retried = [e for e in events if e.transition == victim and e.kind == "transition_started"]
        assert [e.attempt for e in retried] == [1, 2]


def _chain_run(n: int) -> pe.Run:
    return pe.Run(run_id="c", template="minimal", slices=tuple(
        pe.Slice(f"s{i}", "pending", (f"s{i - 1}",) if i else ()) for i in range(n)))


def test_firing_cost_does_not_grow_with_the_net() -> None:
    per_firing = []
    for n in (50, 5000):
        run = _chain_run(n)
        sched = pe.PetriScheduler.for_run(run)
        state = sched.session(pe.marking_of(run))
        assert isinstance(state, pe.NetState)
        pending = state.get_ready()
        while pending:
            t = pending.pop()
            state.fire(t)
            pending.extend(state.get_ready())
        arcs = sum(len(c) + len(r) for c, r in zip(sched.net.consume, sched.net.read,
                                                     strict=True))
        assert state.arc_checks <= 3 * arcs  # whole drive: O(arcs)
        per_firing.append(state.arc_checks / state.fired)
    assert per_firing[1] <= per_firing[0] * 1.2

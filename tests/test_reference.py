"""The reference executor's own tests, reproduced against the executor template."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

import petri_exec as pe
from petri_exec.testing import FakePorts

from .conftest import state_of, write_run


def test_two_slice_run_drives_to_promotion_prepared(two_slices: Path) -> None:
    ports = FakePorts()
    out = pe.drive(two_slices, ports)
    assert out.status == "completed"
    assert out.run_status == "promotion_prepared"
    assert out.step is None and out.reason is None
    run = pe.load_run(two_slices)
    assert run.status == "promotion_prepared"
    assert [s.status for s in run.slices] == ["completed", "completed"]
    assert len(run.facts["commit"]) == 12  # the land port's sha is recorded in run facts
    assert out.run == run
    assert out.fired == 8 + 2 * 5  # 8 driven run steps + 5 steps per slice
    assert (two_slices.parent / "run.pnml").is_file()


def _fired(path: Path) -> list[str]:
    events, torn = pe.read_journal(pe.journal_path(path))
    assert not torn
    return [e.transition for e in events if e.kind == "transition_fired" and e.transition]


def test_parity_fire_by_hand_equals_drive(tmp_path: Path) -> None:
    slices = [
        {"id": "a", "depends_on": []},
        {"id": "b", "depends_on": ["a"]},
        {"id": "c", "depends_on": []},
        {"id": "d", "depends_on": ["b", "c"]},
    ]
    (tmp_path / "driven").mkdir()
    (tmp_path / "by_hand").mkdir()
    driven = write_run(tmp_path / "driven" / "run.json", slices)
    by_hand = write_run(tmp_path / "by_hand" / "run.json", slices)
    driven_ports, hand_ports = FakePorts(), FakePorts()
    out = pe.drive(driven, driven_ports, scheduler="linear")
    assert out.status == "completed"
    order: list[str] = []
    while True:
        run = pe.load_run(by_hand)
        ready = pe.LinearScheduler.for_run(run).ready(pe.marking_of(run))
        if not ready:
            break
        (t,) = ready
        assert pe.fire(by_hand, t.name, hand_ports).status == "fired"
        order.append(t.name)
    assert state_of(driven) == state_of(by_hand)  # each run minted its own identity
    assert _fired(driven) == order == _fired(by_hand)
    assert [(c.port, c.transition) for c in driven_ports.calls] == [
        (c.port, c.transition) for c in hand_ports.calls
    ]


def test_test_runner_failure_halts_without_advancing(two_slices: Path) -> None:
    before = state_of(two_slices)
    seen: list[pe.Event] = []
    at_attempt: list[bytes] = []

    def observe(e: pe.Event) -> None:
        seen.append(e)
        if e.kind == "transition_started" and e.transition == "test_result:api":
            # the run as a reader sees it (run.json + the journal; readers need no lock)
            at_attempt.append(pe.dump_run(attrs.evolve(pe.load_run(two_slices), identity=None)))

    out = pe.drive(two_slices, FakePorts(fail={"test_runner": "tests crashed"}),
                   on_event=observe)
    assert out.status == "halted"
    assert out.step == "test_result:api"
    assert out.reason == "tests crashed"
    run = pe.load_run(two_slices)
    assert run.slice("api").status == "agent_result_ingested"
    # run.json advanced to the state before the failed attempt, not past it
    assert state_of(two_slices) != before
    assert at_attempt and state_of(two_slices) == at_attempt[0]  # byte-identical
    again = FakePorts(fail={"test_runner": "tests crashed"})
    snapshot = two_slices.read_bytes()
    out2 = pe.drive(two_slices, again)
    assert out2.status == "halted" and out2.fired == 0
    assert two_slices.read_bytes() == snapshot
    kinds = [e.kind for e in seen if e.kind != "checkpoint"][-2:]
    assert kinds == ["transition_failed", "net_halted"]
    assert seen[-1].reason == "tests crashed"


def test_exception_in_port_is_a_failure_naming_the_exception(two_slices: Path) -> None:
    out = pe.drive(two_slices, FakePorts(fail={"agent_runner": RuntimeError("agent died")}))
    assert out.status == "halted"
    assert out.step == "agent_result:api"
    assert out.reason == "RuntimeError: agent died"


def test_failed_verdict_advances_then_run_complete_halts(two_slices: Path) -> None:
    seen: list[pe.Event] = []
    out = pe.drive(two_slices, FakePorts(verdicts={"ui": "failed"}), on_event=seen.append)
    assert out.status == "halted"
    assert out.step == "run_complete"
    assert out.reason == "verification_failed"
    run = pe.load_run(two_slices)
    assert run.status == "reports_initialized"
    assert run.slice("ui").status == "completed"
    assert run.slice("ui").facts["verdict"] == "failed"
    assert "net_completed" not in {e.kind for e in seen}
    failed = [e for e in seen if e.kind == "transition_failed"]
    assert failed[0].facts == {"failed_slices": ["ui"],
                               "detail": "the tests of slice ui failed (facts.verdict)"}
    assert out.detail == "the tests of slice ui failed (facts.verdict)"


@pytest.mark.parametrize(
    ("ports", "reason"),
    [
        (FakePorts(fail={"land": "merge conflict"}), "promotion_failed"),
        (FakePorts(fail={"land": RuntimeError("git push rejected")}), "promotion_failed"),
        (FakePorts(land_changes=False), "promotion_no_changes"),
        (FakePorts(fail={"land": "promotion_no_changes"}), "promotion_no_changes"),
    ],
)
def test_land_failures_halt_at_promotion(two_slices: Path, ports: FakePorts, reason: str) -> None:
    out = pe.drive(two_slices, ports)
    assert out.status == "halted"
    assert out.step == "promotion"
    assert out.reason == reason
    assert pe.load_run(two_slices).status == "petri_exported"
    if reason == "promotion_failed":
        assert out.detail is not None and out.detail != ""


def test_raising_observer_does_not_stop_the_drive(two_slices: Path) -> None:
    seen: list[pe.Event] = []

    def observer(e: pe.Event) -> None:
        seen.append(e)
        raise ValueError("observer bug")

    out = pe.drive(two_slices, FakePorts(), on_event=observer)
    assert out.status == "completed"
    assert [e.seq for e in seen] == list(range(len(seen)))
    journal, _ = pe.read_journal(pe.journal_path(two_slices))
    assert [e.to_json() for e in journal] == [e.to_json() for e in seen]
    assert seen[-1].kind == "net_completed"
    assert sum(e.kind == "transition_fired" for e in seen) == out.fired


@pytest.mark.parametrize("scheduler", ["petri", "linear"])
@pytest.mark.parametrize("n", [1, 3, 7])
def test_agent_and_test_runner_called_once_per_slice(
    make_run: Callable[..., Path], scheduler: str, n: int
) -> None:
    path = make_run([{"id": f"s{i}", "depends_on": [f"s{i - 1}"] if i % 2 else []}
                     for i in range(n)])
    ports = FakePorts()
    assert pe.drive(path, ports, scheduler=scheduler).status == "completed"
    assert sorted(c.slice_id or "" for c in ports.calls_to("agent_runner")) == sorted(
        f"s{i}" for i in range(n))
    assert len(ports.calls_to("test_runner")) == n


def test_linear_scheduler_contract_along_a_drive(make_run: Callable[..., Path]) -> None:
    path = make_run([
        {"id": "b", "depends_on": ["a"]},
        {"id": "a", "depends_on": []},
        {"id": "c", "depends_on": []},
    ])
    run = pe.load_run(path)
    lin = pe.LinearScheduler.for_run(run)
    session = lin.session(pe.marking_of(run))
    m = pe.marking_of(run)
    starts = []
    while m.get("run:promotion_prepared", 0) == 0:
        ready = lin.ready(m)
        assert len(ready) == 1, m
        (t,) = ready
        assert not t.manual
        if t.step == "slice_start":
            starts.append(t.slice_id)
        m = lin.net.fire(m, t)
        session.fire(t)
        assert session.marking() == m
    assert lin.ready(m) == frozenset()
    host = lin.net.transition("host_promotion")
    assert host.manual and lin.net.is_enabled(host, m)
    assert host not in pe.PetriScheduler(lin.net).ready(m)
    # slice choice follows completion facts: a before b (dependency), ties by file order
    assert starts == ["a", "b", "c"]


def test_manual_gate_fired_only_by_fire(two_slices: Path) -> None:
    assert pe.drive(two_slices, FakePorts()).status == "completed"
    again = pe.drive(two_slices, FakePorts())
    assert again.status == "completed" and again.fired == 0
    ports = FakePorts()
    out = pe.fire(two_slices, "host_promotion", ports)
    assert out.status == "fired"
    assert out.run_status == "promoted"
    assert [c.port for c in ports.calls] == ["host_land"]


def test_missing_port_fails_closed(two_slices: Path) -> None:
    before = state_of(two_slices)
    out = pe.drive(two_slices, FakePorts(missing=["workspace"]))
    assert out.status == "halted"
    assert out.step == "worktree_create"
    assert out.reason is not None
    assert "port 'workspace' is missing for transition 'worktree_create'" in out.reason
    assert "ports['workspace']" in out.reason
    assert state_of(two_slices) == before  # only the identity of its first drive is new


def test_fire_not_enabled_names_missing_tokens(two_slices: Path) -> None:
    before = two_slices.read_bytes()
    with pytest.raises(pe.NotEnabledError, match=r"slice:api:agent_result_ingested") as info:
        pe.fire(two_slices, "test_result:api", FakePorts())
    assert isinstance(info.value, RuntimeError)
    assert "'test_result:api' is not enabled" in str(info.value)
    with pytest.raises(pe.UnknownTransitionError, match="did you mean 'test_result:api'"):
        pe.fire(two_slices, "test_result:apy", FakePorts())
    assert two_slices.read_bytes() == before


def _diamond(path: Path) -> Path:
    return write_run(path, [
        {"id": "a", "depends_on": []},
        {"id": "b", "depends_on": ["a"]},
        {"id": "c", "depends_on": ["a"]},
        {"id": "d", "depends_on": ["b", "c"]},
    ], run_id="deps")


@pytest.mark.parametrize("max_parallel", [1, 3])
def test_ports_see_their_dependencies_facts(tmp_path: Path, max_parallel: int) -> None:
    seen: dict[str, dict[str, dict[str, object]]] = {}

    def agent(ctx: pe.StepContext) -> dict[str, object]:
        seen[ctx.transition] = {k: dict(v) for k, v in ctx.dependencies.items()}
        return {"made": ctx.slice_id, "deps_seen": sorted(ctx.dependencies)}

    ports = dict(FakePorts())
    ports["agent_runner"] = agent
    ports["workspace"] = lambda ctx: {"run_deps": len(ctx.dependencies)}
    out = pe.drive(_diamond(tmp_path / "run.json"), ports, max_parallel=max_parallel)
    assert out.status == "completed", out
    assert seen["agent_result:a"] == {}
    assert list(seen["agent_result:d"]) == ["b", "c"]
    assert seen["agent_result:d"]["b"]["made"] == "b"
    assert seen["agent_result:d"]["c"]["verdict"] == "passed"  # the dependency's last facts
    assert seen["agent_result:b"]["a"]["deps_seen"] == []
    assert out.run.facts["run_deps"] == 0


def test_dependencies_are_read_only_and_pickle_as_dicts(tmp_path: Path) -> None:
    import pickle

    contexts: list[pe.StepContext] = []
    ports = dict(FakePorts())
    ports["test_runner"] = lambda ctx: (contexts.append(ctx), {"verdict": "passed"})[1]
    assert pe.drive(_diamond(tmp_path / "run.json"), ports).status == "completed"
    ctx = next(c for c in contexts if c.slice_id == "d")
    with pytest.raises(TypeError):
        ctx.dependencies["b"]["made"] = "x"  # type: ignore[index]
    with pytest.raises(KeyError):
        ctx.dependencies["a"]  # not a direct dependency of d
    back = pickle.loads(pickle.dumps(ctx))
    assert back == ctx
    assert dict(back.dependencies) == {k: dict(v) for k, v in ctx.dependencies.items()}
    with pytest.raises(TypeError):
        back.dependencies["b"]["x"] = 1  # type: ignore[index]


def test_optional_port_is_called_when_supplied(two_slices: Path) -> None:
    calls: list[tuple[str, str | None, list[str]]] = []

    def integrate(ctx: pe.StepContext) -> dict[str, str]:
        calls.append((ctx.transition, ctx.port, sorted(ctx.dependencies)))
        return {"integrated": ctx.slice_id or ""}

    ports = dict(FakePorts())
    ports["integrate"] = integrate
    out = pe.drive(two_slices, ports)
    assert out.status == "completed"
    assert calls == [("slice_complete:api", "integrate", []),
                     ("slice_complete:ui", "integrate", ["api"])]
    assert out.run.slice("ui").facts["integrated"] == "ui"
    net = pe.compile_run(out.run)
    assert net.transition("slice_complete:api").port is None  # the net is unchanged


def test_optional_port_missing_keeps_the_step_bookkeeping(two_slices: Path,
                                                          tmp_path: Path) -> None:
    out = pe.drive(two_slices, FakePorts())
    assert out.status == "completed"
    assert "integrated" not in out.run.slice("api").facts


def test_optional_port_failure_halts_at_its_step(two_slices: Path) -> None:
    ports = dict(FakePorts())
    ports["integrate"] = lambda ctx: pe.StepResult.fail("merge conflict in a.txt")
    out = pe.drive(two_slices, ports)
    assert (out.status, out.step, out.reason) == ("halted", "slice_complete:api",
                                                  "merge conflict in a.txt")
    assert pe.load_run(two_slices).slice("api").status == "test_result_ingested"


class _Preflighted:
    def __init__(self, refuse: bool) -> None:
        self.refuse = refuse
        self.seen: list[tuple[object, str]] = []

    def preflight(self, run_path: Path | None, run: pe.Run) -> None:
        self.seen.append((run_path, run.run_id))
        if self.refuse:
            raise pe.UsageError("refused by preflight")

    def workspace(self, ctx: pe.StepContext) -> None:
        return None


def test_drive_and_fire_call_the_ports_preflight_before_touching_the_run(
        two_slices: Path) -> None:
    before = two_slices.read_bytes()
    ports = _Preflighted(refuse=True)
    with pytest.raises(pe.UsageError, match="refused by preflight"):
        pe.drive(two_slices, ports)
    with pytest.raises(pe.UsageError, match="refused by preflight"):
        pe.fire(two_slices, "worktree_create", ports)
    assert ports.seen == [(two_slices, "checkout-redesign")] * 2
    assert two_slices.read_bytes() == before
    assert not pe.journal_path(two_slices).exists()
    ok = _Preflighted(refuse=False)
    assert pe.fire(two_slices, "worktree_create", ok).status == "fired"
    assert pe.drive(pe.load_run(two_slices), ok, max_firings=0).status == "paused"
    assert ok.seen[-1] == (None, "checkout-redesign")

"""Concurrent firing: parity with the linear drive, the parallelism bound, failures,
retries, timeouts, async ports, interruption, and a real Dask cluster."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import petri_exec as pe

from .strategies import dag_runs


class Recorder:
    """A runner port recording start/end times and the number of calls in flight."""

    def __init__(self, latencies: dict[str, float] | None = None,
                 fail: dict[str, int] | None = None) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.max_running = 0
        self.spans: dict[str, tuple[float, float]] = {}
        self.calls: list[tuple[str, int]] = []
        self.latencies = latencies or {}
        self.fail = dict(fail or {})  # slice id -> number of attempts that fail

    def __call__(self, ctx: pe.StepContext) -> Any:
        sid = ctx.slice_id or ctx.transition
        with self.lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
            self.calls.append((ctx.transition, ctx.attempt))
        start = time.monotonic()
        try:
            time.sleep(self.latencies.get(sid, 0.0))
            if ctx.attempt <= self.fail.get(sid, 0):
                return pe.StepResult.fail(f"flaky {sid}")
            return {"done": sid}
        finally:
            with self.lock:
                self.running -= 1
                self.spans[sid] = (start, time.monotonic())


def _ports(rec: Recorder) -> dict[str, Any]:
    return {"runner": rec, "agent_runner": rec, "test_runner": lambda ctx: {"verdict": "passed"},
            "workspace": lambda ctx: None, "land": lambda ctx: {"commit": "x"}}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dag_runs(max_slices=12, templates=("minimal",)), st.integers(1, 6), st.data())
def test_parallel_drive_equals_linear_and_respects_bounds(run: pe.Run, k: int,
                                                          data: st.DataObject) -> None:
    latencies = {s.id: data.draw(st.sampled_from([0.0, 0.001, 0.003])) for s in run.slices}
    rec = Recorder(latencies)
    events: list[pe.Event] = []
    out = pe.drive(run, _ports(rec), max_parallel=k, on_event=events.append)
    linear = pe.drive(run, _ports(Recorder()), scheduler="linear")
    assert out.status == linear.status == "completed"
    assert pe.dump_run(out.run) == pe.dump_run(linear.run)
    fired = [e.transition for e in events if e.kind == "transition_fired"]
    assert len(fired) == len(set(fired)) == len(run.slices) + 2
    assert rec.max_running <= k
    deps = pe.run.model.dependencies(run)
    for i, s in enumerate(run.slices):
        for d in deps[i]:
            assert rec.spans[run.slices[d].id][1] <= rec.spans[s.id][0]


def test_wide_run_really_runs_in_parallel() -> None:
    run = pe.Run(run_id="wide", template="minimal",
                 slices=tuple(pe.Slice(f"s{i}") for i in range(16)))
    barrier = threading.Barrier(8, timeout=30)  # passes only with 8 ports in flight at once
    rec = Recorder()

    def runner(ctx: pe.StepContext) -> Any:
        barrier.wait()
        return rec(ctx)

    out = pe.drive(run, {"runner": runner}, max_parallel=8)
    assert out.status == "completed", out  # a broken barrier fails a step: not parallel
    assert rec.max_running <= 8 and len(rec.calls) == 16


def test_failure_in_one_branch_while_others_run(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    pe.save_run(pe.Run(run_id="f", template="minimal", slices=(
        pe.Slice("bad"), pe.Slice("slow1"), pe.Slice("slow2"),
        pe.Slice("after", depends_on=("bad",)))), path)
    rec = Recorder({"bad": 0.01, "slow1": 0.1, "slow2": 0.1}, fail={"bad": 99})
    out = pe.drive(path, _ports(rec), max_parallel=3)
    assert (out.status, out.step) == ("halted", "execute:bad")
    assert out.reason == "flaky bad"
    assert [f.transition for f in out.failures] == ["execute:bad"]
    run = pe.load_run(path)
    # the steps in flight finished and were committed; nothing new started
    assert run.slice("slow1").status == run.slice("slow2").status == "done"
    assert run.slice("after").status == "pending"
    assert "execute:after" not in [c for c, _ in rec.calls]
    resumed = pe.drive(path, _ports(Recorder()), max_parallel=3)
    assert resumed.status == "completed" and resumed.fired == 3  # bad, after, finish


def test_every_failure_is_listed() -> None:
    run = pe.Run(run_id="ff", template="minimal",
                 slices=(pe.Slice("a"), pe.Slice("b"), pe.Slice("c")))
    rec = Recorder({"a": 0.02, "b": 0.02}, fail={"a": 9, "b": 9})
    out = pe.drive(run, _ports(rec), max_parallel=3)
    assert out.status == "halted"
    assert sorted(f.transition for f in out.failures) == ["execute:a", "execute:b"]
    assert out.step == out.failures[0].transition


@pytest.mark.parametrize("max_parallel", [1, 3])
def test_retries_succeed_on_attempt_3(max_parallel: int) -> None:
    run = pe.Run(run_id="r", template="minimal", slices=(pe.Slice("a"), pe.Slice("b")))
    rec = Recorder(fail={"a": 2})
    events: list[pe.Event] = []
    out = pe.drive(run, _ports(rec), max_parallel=max_parallel, retries=2,
                   retry_backoff_s=0.01, on_event=events.append)
    assert out.status == "completed"
    assert [a for t, a in rec.calls if t == "execute:a"] == [1, 2, 3]
    started = [e.attempt for e in events if e.kind == "transition_started"
               and e.transition == "execute:a"]
    failed = [e.attempt for e in events if e.kind == "transition_failed"]
    assert started == [1, 2, 3] and failed == [1, 2]


@pytest.mark.parametrize("max_parallel", [1, 3])
def test_retries_give_up_after_the_last(max_parallel: int) -> None:
    run = pe.Run(run_id="r", template="minimal", slices=(pe.Slice("a"),))
    rec = Recorder(fail={"a": 99})
    out = pe.drive(run, _ports(rec), max_parallel=max_parallel, retries=2)
    assert (out.status, out.step, out.reason) == ("halted", "execute:a", "flaky a")
    assert [a for _, a in rec.calls] == [1, 2, 3]
    assert out.failures[0].attempt == 3


def test_template_retries_and_timeout(tmp_path: Path) -> None:
    (tmp_path / "flaky.toml").write_text(
        'name = "flaky"\n[run]\ninitial = "created"\nfrontier = "running"\nend = "done"\n'
        '[[run.steps]]\nname = "start"\nfrom = "created"\nto = "running"\n'
        '[[run.steps]]\nname = "finish"\nfrom = "running"\nto = "done"\n'
        '[slice]\ninitial = "pending"\ndone = "done"\n'
        '[[slice.steps]]\nname = "execute"\nfrom = "pending"\nto = "done"\nport = "runner"\n'
        'retries = 1\ntimeout_s = 0.05\n')
    run = pe.Run(run_id="t", template="flaky", slices=(pe.Slice("a"),), status="created")
    slow = Recorder({"a": 0.3})
    events: list[pe.Event] = []
    out = pe.drive(run, {"runner": slow}, template_dirs=[tmp_path], on_event=events.append)
    assert out.status == "halted" and out.reason is not None
    assert out.reason.startswith("timeout: port 'runner' took longer than 0.05s")
    # the template's retries = 1: two attempts, each timed out (a late worker thread may
    # record its call after the drive returned, so the journal is what is checked)
    assert [(e.kind, e.attempt) for e in events if e.transition == "execute:a"
            and e.kind in ("transition_started", "transition_failed")] == [
        ("transition_started", 1), ("transition_failed", 1),
        ("transition_started", 2), ("transition_failed", 2)]


@pytest.mark.parametrize("max_parallel", [1, 2])
def test_timeout_of_an_async_port(max_parallel: int) -> None:
    async def slow(ctx: pe.StepContext) -> None:
        await asyncio.sleep(5)

    run = pe.Run(run_id="t", template="minimal", slices=(pe.Slice("a"),))
    t0 = time.monotonic()
    out = pe.drive(run, {"runner": slow}, max_parallel=max_parallel, timeout_s=0.05)
    assert out.status == "halted" and out.reason is not None and "timeout" in out.reason
    assert time.monotonic() - t0 < 4  # cancelled, not waited for


def test_async_ports_run_concurrently() -> None:
    state = {"now": 0, "max": 0}
    lock = threading.Lock()

    barrier = threading.Barrier(3, timeout=30)  # passes only with 3 ports in flight

    async def runner(ctx: pe.StepContext) -> dict[str, str]:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        await asyncio.to_thread(barrier.wait)
        with lock:
            state["now"] -= 1
        return {"async": ctx.transition}

    run = pe.Run(run_id="a", template="minimal", slices=tuple(pe.Slice(f"s{i}")
                                                               for i in range(6)))
    out = pe.drive(run, {"runner": runner}, max_parallel=3)
    assert out.status == "completed" and state["max"] == 3


def test_adrive_inside_a_running_loop() -> None:
    async def runner(ctx: pe.StepContext) -> None:
        await asyncio.sleep(0)

    run = pe.Run(run_id="a", template="minimal", slices=(pe.Slice("x"), pe.Slice("y")))

    async def main() -> pe.DriveOutcome:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.001)

        task = asyncio.create_task(ticker())
        out = await pe.adrive(run, {"runner": runner}, max_parallel=2)
        task.cancel()
        assert ticks > 0  # the caller's loop kept running
        return out

    assert asyncio.run(main()).status == "completed"


INTERRUPTIBLE = '''
import time
def runner(ctx):
    time.sleep(0.2)
ports = {"runner": runner}
'''


def test_interrupt_then_resume(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    # 60 slices of 0.2 s at 3 in parallel: 4 s of work, so "some but not all done" holds
    # unless the signal waits seconds to be handled (normally one batch of 3 more fires)
    pe.save_run(pe.Run(run_id="i", template="minimal",
                       slices=tuple(pe.Slice(f"s{i}") for i in range(60))), path)
    (tmp_path / "iports.py").write_text(INTERRUPTIBLE)
    exe = str(Path(sys.executable).parent / "petri-exec")
    proc = subprocess.Popen([exe, "drive", "run.json", "--ports", "iports:ports",
                             "--max-parallel", "3"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:  # wait until the first steps have fired
        if "transition_fired execute:" in line:
            break
    proc.send_signal(signal.SIGTERM)
    rest = proc.stdout.read()  # the same buffered stream (communicate() would bypass it)
    err = proc.stderr.read() if proc.stderr is not None else ""
    proc.wait(timeout=30)
    assert proc.returncode == 5, (rest, err)
    assert "paused" in rest and "interrupted" in rest
    run = pe.load_run(path)
    done = sum(s.status == "done" for s in run.slices)
    assert 1 <= done < 60
    events, _ = pe.read_journal(pe.journal_path(path))
    assert events[-1].kind == "net_paused" and events[-1].reason == "interrupted"
    out = pe.drive(path, {"runner": lambda ctx: None}, max_parallel=3)
    assert out.status == "completed"
    assert out.fired == 60 - done + 1


def test_keyboard_interrupt_in_the_library_pauses(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    pe.save_run(pe.Run(run_id="k", template="minimal",
                       slices=tuple(pe.Slice(f"s{i}") for i in range(4))), path)

    def runner(ctx: pe.StepContext) -> None:
        if ctx.slice_id == "s2":
            raise KeyboardInterrupt

    out = pe.drive(path, {"runner": runner})
    assert (out.status, out.reason) == ("paused", "interrupted")
    assert json.loads(path.read_text())["slices"][1]["status"] == "done"
    assert pe.drive(path, {"runner": lambda ctx: None}).status == "completed"


def test_unshippable_port_is_named() -> None:
    import concurrent.futures as cf

    lock = threading.Lock()

    def runner(ctx: pe.StepContext, _lock: Any = lock) -> None:
        return None

    run = pe.Run(run_id="u", template="minimal", slices=(pe.Slice("a"),))
    with cf.ProcessPoolExecutor(1) as pool:
        out = pe.drive(run, {"runner": runner}, max_parallel=2, executor=pool)
    assert out.status == "halted" and out.reason is not None
    assert out.reason.startswith("port 'runner' cannot be shipped to ProcessPoolExecutor")


@pytest.mark.slow
def test_dask_local_cluster_with_worker_processes(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    from . import parallel_ports

    path = tmp_path / "run.json"
    slices = tuple(pe.Slice(f"s{i}", depends_on=(f"s{i - 2}",) if i >= 2 else (),
                            meta={"sleep": 0.05, "driver_pid": os.getpid()}) for i in range(8))
    pe.save_run(pe.Run(run_id="dask", template="minimal", slices=slices), path)
    env_path = os.pathsep.join([str(Path(__file__).parent.parent), os.environ.get(
        "PYTHONPATH", "")])
    os.environ["PYTHONPATH"] = env_path
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        out = pe.drive(path, {"runner": parallel_ports.sleepy}, max_parallel=2,
                       executor=client.get_executor())
    assert out.status == "completed", out
    assert all(s.facts["remote"] is True for s in out.run.slices)  # ran in worker processes
    assert [s.facts["ran"] for s in out.run.slices] == [f"execute:s{i}" for i in range(8)]
    assert pe.load_run(path) == out.run


def test_a_process_pool_runs_the_ports() -> None:
    """The standard pickle ships a StepContext (its read-only run_facts included)."""
    import concurrent.futures as cf
    import pickle

    from . import parallel_ports

    ctx = pe.StepContext("r", "t", "t", None, None, MappingProxyType({"k": 1}), 1, "r/t",
                         None, "runner", "running")
    back = pickle.loads(pickle.dumps(ctx))
    assert back == ctx and isinstance(back.run_facts, MappingProxyType)
    run = pe.Run("pp", tuple(pe.Slice(f"s{i}", meta={"sleep": 0, "driver_pid": os.getpid()})
                             for i in range(4)), template="minimal")
    with cf.ProcessPoolExecutor(2) as pool:
        out = pe.drive(run, {"runner": parallel_ports.sleepy}, max_parallel=2, executor=pool)
    assert out.status == "completed", out
    assert all(s.facts["remote"] for s in out.run.slices)

"""Deterministic tests for the mutants the sixth mutation sample left alive (issue 19, seed
25, after tests/test_survivors5.py): each test here fails on the survivor it names and
passes on the real code (each checked by planting the mutant by hand). None depends on
timing to detect anything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import petri_exec as pe
from petri_exec.engine.journal import Journal
from petri_exec.ports.procgroup import groups_of, run_command, terminate_groups
from petri_exec.ports.prompt import prompt_text
from petri_exec.ports.shell import ShellPorts

Make = Callable[..., Path]
NETS = Path(__file__).resolve().parents[1] / "nets"


# -- core.runnet.RunNet.state: the fast state for every marking a run reaches ---------------

def test_a_plain_marking_with_one_token_per_lane_gets_the_run_state() -> None:
    # runnet.RunNet._positions mutmut_53: `n != 1` -> `n != 2`: a marking given as a plain
    # mapping never gets the RunState its docstring promises (only the general NetState)
    run = pe.Run(run_id="st", template="minimal", slices=(pe.Slice("a"),
                                                          pe.Slice("b", depends_on=("a",))))
    net = pe.compile_run(run)
    plain = {k: v for k, v in pe.marking_of(run).items() if v}
    state = net.state(plain)
    assert type(state) is pe.RunState
    assert [t.name for t in state.get_ready()] == ["start"]
    doubled = {**plain, "run:created": 2}  # two tokens in a lane: not a run's marking
    assert type(net.state(doubled)) is pe.NetState


# -- engine.api: drive's policy override, fire's preflight ---------------------------------

def test_a_retry_backoff_of_zero_seconds_is_accepted(make_run: Make) -> None:
    # api._policy_override mutmut_15: `backoff < 0` -> `<= 0` refuses 0 (no wait between
    # attempts), which the message itself calls valid ("must be a non-negative ...")
    run = make_run([{"id": "a", "depends_on": []}], template="minimal")
    tries: list[int] = []

    def flaky(ctx: pe.StepContext) -> pe.StepResult | None:
        tries.append(ctx.attempt)
        return pe.StepResult.fail("first try") if ctx.attempt == 1 else None

    out = pe.drive(run, {"runner": flaky}, retries=1, retry_backoff_s=0)
    assert out.status == "completed", out
    assert tries == [1, 2]
    with pytest.raises(pe.UsageError) as e:
        pe.drive(run, {"runner": flaky}, retries=1, retry_backoff_s=-0.5)
    assert str(e.value) == "retry_backoff_s=-0.5 must be a non-negative finite number of seconds"


def test_fire_lets_the_ports_preflight_load_a_template_from_template_dirs(
        tmp_path: Path) -> None:
    # api.fire mutmut_8: `preflight(run, ports, template_dirs)` -> `preflight(run, ports)`:
    # a run on a template of the caller's directory cannot be fired with ports that check
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "mine.toml").write_text(
        (NETS / "minimal.toml").read_text().replace('name = "minimal"', 'name = "mine"'))
    run = tmp_path / "run.json"
    run.write_text(json.dumps({"version": 1, "run_id": "f", "template": "mine", "slices": [
        {"id": "a", "depends_on": [], "meta": {"run": "echo hi > hi.txt"}}]}))
    tpl = [tmp_path / "tpl"]
    assert pe.fire(run, "start", ShellPorts(), template_dirs=tpl).run_status == "running"
    fired = pe.fire(run, "execute:a", ShellPorts(), template_dirs=tpl)
    assert (fired.status, fired.run.slice("a").status) == ("fired", "done")
    out = pe.drive(run, ShellPorts(), template_dirs=tpl)  # drive's preflight: the same
    assert (out.status, out.run_status) == ("completed", "done")
    with pytest.raises(pe.TemplateError, match="no template 'mine'"):
        pe.load_template("mine")  # the search was widened for the hook's call only
    assert (tmp_path / "run.work" / "hi.txt").read_text() == "hi\n"


# -- engine.journal.Journal.close: never raises --------------------------------------------

def test_closing_a_journal_whose_descriptor_is_already_gone_does_not_raise(
        tmp_path: Path) -> None:
    # journal.Journal.close mutmut_3: `suppress(OSError)` -> `suppress(None)`: close()
    # promises never to raise (it runs in finally blocks, after the error that matters)
    journal = Journal(tmp_path / "run.events.jsonl")
    os.close(journal._fd)  # e.g. closed by a library that swept descriptors
    journal.close()
    journal.close()  # idempotent


# -- ports.prompt: the prompt is a pure function of the facts ------------------------------

def test_a_prompt_does_not_depend_on_the_order_of_keys_in_a_fact() -> None:
    # prompt._value mutmut_8: `sort_keys=True` -> False: two equal facts written with their
    # keys in another order give two prompts (another attempt, another prompt)
    s = pe.Slice("ui", depends_on=("api",), meta={"prompt": "Build the UI."})
    one = prompt_text("r", s, {"api": {"routes": {"post": 1, "get": 2}}}, "petri/r.slices/ui")
    two = prompt_text("r", s, {"api": {"routes": {"get": 2, "post": 1}}}, "petri/r.slices/ui")
    assert one == two
    assert '- routes: {"get": 2, "post": 1}' in one


# -- ports.shell.ShellPorts.preflight: every step of a slice is checked --------------------

def test_preflight_checks_a_slices_other_commands_after_a_bad_one(tmp_path: Path) -> None:
    # shell.ShellPorts.preflight mutmut_40: `continue` -> `break` after a command that is
    # not a string: the slice's later commands (its meta.verify) are no longer checked
    run_path = tmp_path / "run.json"
    run_path.write_text(json.dumps({"version": 1, "run_id": "p", "slices": [
        {"id": "a", "depends_on": [],
         "meta": {"run": ["make"], "verify": "no-such-program-xyz --check"}}]}))
    run = pe.load_run(run_path)
    assert ShellPorts().preflight(run_path, run) == [
        "slices[0].meta.run: must be a shell command (a string), got list; the shell ports "
        "fail agent_result:a",
        "warning: slices[0].meta.verify: program 'no-such-program-xyz' is not on PATH (the "
        "command of slice 'a' would exit with 127); install it or fix the command"]


# -- duration arguments: finite numbers of seconds, named in full when refused -------------

BAD_SECONDS = [-1, float("nan"), float("inf"), True, "5"]


@pytest.mark.parametrize(("name", "zero", "value"), [
    *((name, zero, v) for name, zero in (("grace_s", True), ("retry_backoff_s", True),
                                         ("timeout_s", False)) for v in BAD_SECONDS),
    ("grace_s", True, None)])  # (None is "no override" for the other two)
def test_drive_refuses_a_duration_that_is_not_a_finite_number_of_seconds(
        make_run: Make, name: str, zero: bool, value: object) -> None:
    run = make_run([{"id": "a", "depends_on": []}], template="minimal")
    before = run.read_bytes()
    with pytest.raises(pe.UsageError) as e:
        pe.drive(run, {"runner": lambda ctx: None}, **{name: value})
    kind = "non-negative" if zero else "positive"
    assert str(e.value) == f"{name}={value!r} must be a {kind} finite number of seconds"
    assert run.read_bytes() == before and not pe.journal_path(run).exists()


def test_drive_accepts_the_boundary_durations(make_run: Make) -> None:
    run = make_run([{"id": "a", "depends_on": []}], template="minimal")
    out = pe.drive(run, {"runner": lambda ctx: None}, grace_s=0, retry_backoff_s=0.0,
                   timeout_s=1e-9 + 30, retries=0)
    assert out.status == "completed"
    with pytest.raises(pe.UsageError) as e:
        pe.drive(run, {"runner": lambda ctx: None}, timeout_s=0)
    assert str(e.value) == "timeout_s=0 must be a positive finite number of seconds"
    with pytest.raises(pe.UsageError) as e:
        pe.drive(run, {"runner": lambda ctx: None}, retries=True)
    assert str(e.value) == "retries=True must be a non-negative integer"


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), "5"])
def test_the_shell_and_git_ports_refuse_a_timeout_that_is_not_positive_seconds(
        value: object) -> None:
    message = f"timeout_s={value!r} must be a positive finite number of seconds"
    with pytest.raises(pe.UsageError) as e:
        ShellPorts(timeout_s=value)  # type: ignore[arg-type]
    assert str(e.value) == message
    with pytest.raises(pe.UsageError) as e:
        pe.GitPorts(agent="true", timeout_s=value)  # type: ignore[arg-type]
    assert str(e.value) == message
    with pytest.raises(pe.UsageError) as e:
        ShellPorts(kill_after_s=-1)
    assert str(e.value) == "kill_after_s=-1 must be a non-negative finite number of seconds"


@pytest.mark.parametrize(("name", "message"), [
    ("max_parallel", "max_parallel=True must be a positive integer"),
    ("max_firings", "max_firings=True must be a non-negative integer or None"),
    ("checkpoint_every", "checkpoint_every=True must be a positive integer"),
])
def test_drive_refuses_a_bool_where_it_counts(make_run: Make, name: str, message: str) -> None:
    # a bool is an int to isinstance: max_firings=True drove one firing and paused with
    # "max_firings=True reached"
    run = make_run([{"id": "a", "depends_on": []}], template="minimal")
    before = run.read_bytes()
    with pytest.raises(pe.UsageError) as e:
        pe.drive(run, {"runner": lambda ctx: None}, **{name: True})
    assert str(e.value) == message
    assert run.read_bytes() == before and not pe.journal_path(run).exists()


# -- code no in-process test reached (mutmut's "no tests") ---------------------------------

def test_terminate_groups_ends_each_group_with_term_then_kill_what_ignores_it(
        tmp_path: Path) -> None:
    # procgroup.terminate_groups: only the signal soak tests (subprocesses) reached it
    owner = str(tmp_path / "owner.json")
    ready = tmp_path / "trapped"
    codes: dict[str, int | None] = {}

    def one(name: str, argv: list[str]) -> None:
        codes[name] = run_command(argv, owner=owner, cwd=tmp_path, env=dict(os.environ),
                                  stdout=subprocess.DEVNULL)

    threads = [threading.Thread(target=one, args=("plain", ["sleep", "30"])),
               threading.Thread(target=one, args=("stubborn", [
                   "sh", "-c", f'trap "" TERM; touch "{ready}"; while :; do sleep 0.05; done']))]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 30
        while len(groups_of(owner)) < 2 or not ready.exists():  # both running, trap set
            assert time.monotonic() < deadline, groups_of(owner)
            time.sleep(0.01)
        terminate_groups(owner, kill_after_s=0.2)
        for t in threads:
            t.join(30)
        assert codes == {"plain": -signal.SIGTERM, "stubborn": -signal.SIGKILL}
        assert groups_of(owner) == []
        terminate_groups(owner)  # no group left: returns at once, signals nothing
    finally:
        for pgid in groups_of(owner):
            os.killpg(pgid, signal.SIGKILL)
        for t in threads:
            t.join(30)


def test_the_general_state_answers_enabled_by_index(make_run: Make) -> None:
    # netstate.NetState.index_enabled: RunState overrides it, so no test asked NetState
    run = pe.Run(run_id="ix", template="minimal", slices=(pe.Slice("a"),))
    net = pe.compile_run(run)
    state = pe.NetState(net, pe.marking_of(run))
    assert [state.index_enabled(t.index) for t in net.transitions] == [
        t.name == "start" for t in net.transitions]


# -- the seventh sample (seed 27): its one survivor that changes behaviour -----------------

@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="signal handlers are installed only in the main thread")
def test_an_interrupt_pauses_the_sequential_drive_between_steps(make_run: Make) -> None:
    # api._run_sequential mutmut_18: `d.finish("paused", "net_paused", ...)` ->
    # `d.finish("net_paused", ...)`: the one-at-a-time drive ends with the wrong status
    run = make_run([{"id": "a", "depends_on": []}, {"id": "b", "depends_on": ["a"]}],
                   template="minimal")
    calls: list[str] = []

    def runner(ctx: pe.StepContext) -> None:
        calls.append(ctx.transition)
        os.kill(os.getpid(), signal.SIGINT)  # delivered to the drive's handler: a stop

    out = pe.drive(run, {"runner": runner})
    assert (out.status, out.reason, out.fired) == ("paused", "interrupted", 2)
    assert calls == ["execute:a"]  # the step in flight finished; nothing new started
    events, _ = pe.read_journal(pe.journal_path(run))
    assert (events[-1].kind, events[-1].reason) == ("net_paused", "interrupted")
    assert pe.drive(run, {"runner": lambda ctx: calls.append(ctx.transition)}).status == (
        "completed")
    assert calls == ["execute:a", "execute:b"]

"""Every drive option of the API on the command line, through real subprocesses: each flag
reaches the drive, and each bad value is one line naming the flag, exit 2, nothing
modified."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

EXE = str(Path(sys.executable).parent / "petri-exec")
NETS = Path(__file__).parent / "nets"

PORTS = '''
import os, time
from pathlib import Path

import petri_exec as pe

FSYNCS = []
_fsync = os.fsync
def _counting_fsync(fd):
    FSYNCS.append(fd)
    return _fsync(fd)
os.fsync = _counting_fsync


def flaky(ctx):
    """Fails until its third attempt."""
    if ctx.attempt < 3:
        return pe.StepResult.fail(f"flaky attempt {ctx.attempt}")
    return {"attempt": ctx.attempt}


def slow(ctx):
    time.sleep(float(os.environ.get("SLOW_S", "0")))
    return {"slept": True}


def counts(ctx):
    return {"fsyncs": len(FSYNCS)}


FLAKY = {"runner": flaky}
SLOW = {"runner": slow}
COUNTS = {"runner": counts}
'''

SCHEDULERS = '''
import petri_exec as pe


class Hold(pe.Scheduler):
    """Never starts a slice whose meta says hold."""

    def __init__(self, run):
        self.net = pe.compile_run(run)
        self.held = {s.id for s in run.slices if (s.meta or {}).get("hold")}

    @classmethod
    def for_run(cls, run):
        return cls(run)

    def ready(self, marking):
        return frozenset(t for t in self.net.enabled(marking)
                         if not t.manual and t.slice_id not in self.held)


def reverse(run):
    """A factory: the linear scheduler (one step at a time)."""
    return pe.LinearScheduler.for_run(run)


def broken(run):
    raise RuntimeError("no scheduler today")


def not_one(run):
    return 42


NUMBER = 7
'''


def cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], cwd=cwd, capture_output=True, text=True, check=False,
                          timeout=180, env={**os.environ, "PETRI_EXEC_TEMPLATE_PATH": "",
                                            **env})


def events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.with_name(path.stem + ".events.jsonl")
            .read_text().splitlines()]


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "myports.py").write_text(PORTS)
    (tmp_path / "scheds.py").write_text(SCHEDULERS)
    (tmp_path / "run.json").write_text(json.dumps({
        "version": 1, "run_id": "opts", "template": "minimal",
        "slices": [{"id": "a"}, {"id": "b", "depends_on": ["a"]}, {"id": "c"}]}))
    return tmp_path


def test_version_is_the_installed_distributions(work: Path) -> None:
    r = cli("--version", cwd=work)
    assert (r.returncode, r.stdout) == (
        0, f"petri-exec {importlib.metadata.version('petri-exec')}\n")


BAD_VALUES = [
    (["--max-parallel", "0"], "--max-parallel 0: must be a positive integer"),
    (["--max-parallel", "two"], "--max-parallel two: must be a positive integer"),
    (["--max-firings", "-1"], "--max-firings -1: must be a non-negative integer"),
    (["--retries", "1.5"], "--retries 1.5: must be a non-negative integer"),
    (["--retry-backoff", "-2"],
     "--retry-backoff -2: must be a non-negative number of seconds (e.g. 30 or 0.5)"),
    (["--timeout", "0"], "--timeout 0: must be a positive number of seconds (e.g. 30 or 0.5)"),
    (["--timeout", "nan"],
     "--timeout nan: must be a positive number of seconds (e.g. 30 or 0.5)"),
    (["--checkpoint-every", "0"], "--checkpoint-every 0: must be a positive integer"),
    (["--template-dir", "nowhere"], "--template-dir nowhere: not a directory; name the "
     "directory that holds your <template>.toml files"),
    (["--scheduler", "fifo"], "--scheduler 'fifo': use petri, linear or module:attribute (a "
     "scheduler object, or a factory called with the run)"),
    (["--scheduler", "scheds:missing"],
     "--scheduler 'scheds:missing': module 'scheds' has no attribute 'missing'"),
    (["--scheduler", "scheds:broken"], "--scheduler 'scheds:broken': building the scheduler "
     "for run 'opts' raised RuntimeError: no scheduler today"),
    (["--scheduler", "scheds:not_one"], "--scheduler 'scheds:not_one': the factory returned "
     "an object of type int, not a scheduler (an object with net and ready(); subclass "
     "petri_exec.Scheduler)"),
    (["--scheduler", "scheds:NUMBER"], "--scheduler 'scheds:NUMBER': names an object of type "
     "int, neither a scheduler (net and ready()) nor a factory called with the run"),
    (["--dask", "tcp://127.0.0.1:1"], "--dask tcp://127.0.0.1:1: no Dask scheduler answers "
     "there (Connection refused); start one (dask scheduler) or check the address"),
    (["--dask", "udp://x:1"], "--dask udp://x:1: unknown scheme 'udp'; give the scheduler's "
     "address, e.g. tcp://127.0.0.1:8786"),
    (["--dask", "tcp://127.0.0.1:8786", "--max-parallel", "1"], "--dask tcp://127.0.0.1:8786: "
     "ports go to the cluster only with --max-parallel 2 or more; drop --max-parallel 1"),
    (["--dask", "tcp://127.0.0.1:8786", "--scheduler", "linear"], "--dask "
     "tcp://127.0.0.1:8786: the linear scheduler runs one step at a time in this process; "
     "use --scheduler petri (the default)"),
]


@pytest.mark.parametrize(("flags", "message"), BAD_VALUES,
                         ids=[" ".join(f) for f, _ in BAD_VALUES])
def test_a_bad_value_is_one_line_naming_the_flag(work: Path, flags: list[str],
                                                  message: str) -> None:
    before = (work / "run.json").read_bytes()
    r = cli("drive", "run.json", "--ports", "myports:FLAKY", *flags, cwd=work)
    assert (r.returncode, r.stdout, r.stderr) == (2, "", f"petri-exec: error: {message}\n")
    assert (work / "run.json").read_bytes() == before
    assert sorted(p.name for p in work.iterdir() if not p.name.startswith("__")) == [
        "myports.py", "run.json", "scheds.py"]


def test_no_python_argument_names_leak_from_any_refusal(work: Path) -> None:
    (work / "syntax.py").write_text("def oops(:\n")
    cases = [
        (["drive", "run.json", "--ports", "syntax:x"], "syntax.py:1: syntax error ("),
        (["drive", "run.json", "--ports", "my-ports:x"], "--ports 'my-ports:x': expected "
         "module:attribute (a module importable from the current directory and an "
         "attribute name)"),
        (["drive", "run.json", "--ports", "myports"], "--ports 'myports': use 'shell', 'git' or "
         "module:attribute"),
        (["drive", "run.json", "--ports", "shell", "--durability", "never"],
         "argument --durability: invalid choice: 'never' (choose from"),
        (["check", "run.json", "--max-states", "0"], "argument --max-states: 0 is below 1; "
         "give a positive number"),
        (["ready", "run.json", "--scheduler", "scheds:broken"], "--scheduler 'scheds:broken': "
         "building the scheduler for run 'opts' raised RuntimeError: no scheduler today"),
    ]
    for args, part in cases:
        r = cli(*args, cwd=work)
        assert r.returncode == 2 and part in r.stderr, (args, r.stderr)
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
        for leak in ("max_parallel=", "template_dirs", "ValueError:", "durability=",
                     "checkpoint_every=", "max_states="):
            assert leak not in r.stderr, (args, r.stderr)
    (work / "t.json").write_text(json.dumps({"version": 1, "run_id": "t", "template": "mine",
                                             "slices": []}))
    r = cli("ready", "t.json", cwd=work)
    assert r.returncode == 2 and "add its directory with --template-dir DIR" in r.stderr


def test_template_dir_is_accepted_by_every_command_that_loads_a_run(work: Path) -> None:
    (work / "g.json").write_text(json.dumps({"version": 1, "run_id": "g", "template": "gated",
                                             "slices": [{"id": "x"}]}))
    nets = ["--template-dir", str(NETS)]
    r = cli("ready", "g.json", cwd=work)
    assert r.returncode == 2 and "no template 'gated'" in r.stderr
    assert "--template-dir DIR (template_dirs=[DIR] in Python)" in r.stderr
    commands = [["check", "g.json", "--allow-manual"], ["ready", "g.json"],
                ["why", "g.json", "work:x"], ["visualize", "g.json", "--format", "json"],
                ["export", "g.json", "--format", "pnml"],
                ["drive", "g.json", "--ports", "myports:FLAKY", "--json"],
                ["fire", "g.json", "approve", "--ports", "shell"], ["history", "g.json"],
                ["abandon", "g.json", "--reason", "done here"]]
    for args in commands:
        r = cli(*args, *nets, cwd=work)
        assert r.returncode in (0, 4), (args, r.stdout, r.stderr)
        assert cli(*args, cwd=work).returncode == 2, args
    assert json.loads((work / "g.json").read_text())["status"] == "done"


def test_template_dirs_repeat_and_the_first_wins(work: Path, tmp_path: Path) -> None:
    for name, step in (("one", "first"), ("two", "second")):
        d = work / name
        d.mkdir()
        d.joinpath("minimal.toml").write_text((NETS / "gated.toml").read_text()
                                              .replace('"gated"', '"minimal"')
                                              .replace('"work"', f'"{step}"'))
    (work / "m.json").write_text(json.dumps({"version": 1, "run_id": "m", "template":
                                             "minimal", "slices": [{"id": "x"}]}))
    r = cli("why", "m.json", "first:x", "--template-dir", "one", "--template-dir", "two",
            cwd=work)
    assert r.returncode == 0 and "first:x waits for" in r.stdout, r.stderr
    r = cli("why", "m.json", "second:x", "--template-dir", "two", "--template-dir", "one",
            cwd=work)
    assert r.returncode == 0 and "second:x waits for" in r.stdout, r.stderr


def test_retries_and_backoff_reach_the_drive(work: Path) -> None:
    r = cli("drive", "run.json", "--ports", "myports:FLAKY", "--json", cwd=work)
    assert (r.returncode, json.loads(r.stdout)["reason"]) == (3, "flaky attempt 1")
    r = cli("drive", "run.json", "--ports", "myports:FLAKY", "--json", "--retries", "1",
            "--retry-backoff", "0.01", cwd=work)
    assert json.loads(r.stdout)["step"] == "execute:b"  # a: 2nd, 3rd; b: 1st, 2nd (halt)
    r = cli("drive", "run.json", "--ports", "myports:FLAKY", "--json", "--retries", "2",
            "--retry-backoff", "0.01", cwd=work)
    out = json.loads(r.stdout)
    assert (r.returncode, out["status"]) == (0, "completed"), r.stdout
    failed = [(e["transition"], e["attempt"]) for e in events(work / "run.json")
              if e["kind"] == "transition_failed"]
    assert failed == [("execute:a", 1), ("execute:a", 2), ("execute:b", 1), ("execute:b", 2),
                      ("execute:c", 1), ("execute:c", 2)]


def test_timeout_fails_a_slow_attempt(work: Path) -> None:
    r = cli("drive", "run.json", "--ports", "myports:SLOW", "--json", "--timeout", "0.2",
            cwd=work, SLOW_S="2")
    out = json.loads(r.stdout)
    assert (r.returncode, out["status"], out["step"]) == (3, "halted", "execute:a")
    assert out["reason"] == "timeout: port 'runner' took longer than 0.2s"


def test_durability_flush_syncs_less_than_fsync(work: Path) -> None:
    for mode in ("fsync", "flush"):
        (work / f"{mode}.json").write_text((work / "run.json").read_text())
        r = cli("drive", f"{mode}.json", "--ports", "myports:COUNTS", "--durability", mode,
                "--progress", "quiet", cwd=work)
        assert r.returncode == 0, r.stderr
    fsyncs = {mode: json.loads((work / f"{mode}.json").read_text())["slices"][2]["facts"]
              ["fsyncs"] for mode in ("fsync", "flush")}
    # by the third slice's port call, fsync synced each of the 7 journal events so far
    # (started and fired: start, a, b; started: c); flush none of them (both sync what
    # creates the journal and stamps the run file)
    assert fsyncs["fsync"] - fsyncs["flush"] >= 7, fsyncs


def test_checkpoint_every_rewrites_run_json_that_often(work: Path) -> None:
    r = cli("drive", "run.json", "--ports", "myports:COUNTS", "--checkpoint-every", "2",
            "--progress", "quiet", cwd=work)
    assert r.returncode == 0, r.stderr
    kinds = [e["kind"] for e in events(work / "run.json")]
    fired = kinds.count("transition_fired")
    assert fired == 5 and kinds.count("checkpoint") == 3  # after 2, 4 and at the end
    (work / "again.json").write_text(json.dumps({"version": 1, "run_id": "again", "template":
                                                 "minimal", "slices": [{"id": "a"}]}))
    cli("drive", "again.json", "--ports", "myports:COUNTS", cwd=work)
    assert [e["kind"] for e in events(work / "again.json")].count("checkpoint") == 1


def test_scheduler_module_attr_takes_a_class_or_a_factory(work: Path) -> None:
    doc = json.loads((work / "run.json").read_text())
    doc["slices"][2]["meta"] = {"hold": True}
    (work / "run.json").write_text(json.dumps(doc))
    r = cli("ready", "run.json", "--scheduler", "scheds:Hold", cwd=work)
    assert r.stdout == "start\n"
    r = cli("drive", "run.json", "--ports", "myports:COUNTS", "--scheduler", "scheds:Hold",
            "--json", cwd=work)
    out = json.loads(r.stdout)
    assert (r.returncode, out["status"]) == (4, "deadlocked")
    assert "execute:c (enabled but not returned by the scheduler)" in out["reason"]
    r = cli("ready", "run.json", "--scheduler", "scheds:reverse", "--json", cwd=work)
    assert [t["name"] for t in json.loads(r.stdout)] == ["execute:c"]
    r = cli("drive", "run.json", "--ports", "myports:COUNTS", "--scheduler", "scheds:reverse",
            "--max-parallel", "3", "--json", cwd=work)
    assert json.loads(r.stdout)["status"] == "completed", r.stdout + r.stderr


def test_dask_runs_the_ports_on_the_cluster_workers(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    slices = [{"id": s, "depends_on": d, "meta": {"run": f"echo $PPID > ../{s}.ppid"}}
              for s, d in (("a", []), ("b", ["a"]), ("c", ["a"]), ("d", ["b", "c"]))]
    (tmp_path / "run.json").write_text(json.dumps({"version": 1, "run_id": "dask", "template":
                                                   "minimal", "slices": slices}))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        workers = set(client.run(os.getpid).values())
        r = cli("drive", "run.json", "--ports", "shell", "--dask", cluster.scheduler_address,
                "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["status"] == "completed"
    parents = {int((tmp_path / f"{s}.ppid").read_text()) for s in "abcd"}
    assert parents == workers and os.getpid() not in parents


def test_dask_without_distributed_says_what_to_install(work: Path) -> None:
    import socket

    shadow = work / "shadow"
    shadow.mkdir()
    (shadow / "distributed.py").write_text('raise ImportError("No module named distributed")\n')
    with socket.socket() as listener:  # something answers, so the import is what fails
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        address = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
        r = cli("drive", "run.json", "--ports", "shell", "--dask", address, cwd=work,
                PYTHONPATH=str(shadow))
    assert (r.returncode, r.stderr) == (2, f"petri-exec: error: --dask {address}: needs the "
                                           "distributed package; pip install "
                                           "'dask[distributed]'\n")


def test_an_output_file_that_cannot_be_written_is_bad_input(work: Path) -> None:
    for args in (["visualize", "run.json", "-o", "no/such/dir/net.dot"],
                 ["export", "run.json", "--format", "json", "-o", "no/such/dir/net.json"]):
        r = cli(*args, cwd=work)
        out = args[-1]
        assert (r.returncode, r.stderr) == (
            2, f"petri-exec: error: -o {out}: cannot write the file (No such file or "
               "directory); check that its directory exists and is writable\n"), r.stderr

"""The live view's model, without a browser: the journal follower, per-slice statistics, the
catalog of served runs and the request guard."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import petri_exec as pe
from petri_exec.engine.journal import journal_path, read_journal
from petri_exec.testing import FakePorts
from petri_exec.testing.strategies import runs
from petri_exec.views import RunStats, overlay_for
from petri_exec.views.web import Catalog, Guard, RunFollower, is_run_file, log_files

EXAMPLES = Path(__file__).resolve().parent.parent / "nets" / "examples"


def _same(f: RunFollower, path: Path) -> None:
    """The follower shows exactly what a fresh load of the files shows."""
    run = pe.load_run(path)
    assert f.error is None and f.run == run
    assert f.net is not None
    assert f.overlay == overlay_for(path, f.net, run)
    events, _ = read_journal(journal_path(path))
    assert f.total == len(events) and list(f.events) == events[-len(f.events):]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(run=runs(max_slices=6), chunks=st.lists(st.integers(1, 6), min_size=1, max_size=8),
       fail_at=st.integers(0, 40))
def test_the_follower_agrees_with_load_run_after_every_drive(
        tmp_path_factory: pytest.TempPathFactory, run: pe.Run, chunks: list[int],
        fail_at: int) -> None:
    path = tmp_path_factory.mktemp("follow") / "run.json"
    pe.save_run(run, path)
    f = RunFollower(path)
    assert f.poll() and f.loads == 1
    _same(f, path)
    net = pe.compile_run(run)
    failing = net.transitions[fail_at % len(net.transitions)].name
    for n, k in enumerate(chunks):
        ports = FakePorts(fail={failing: "broken"} if n == 1 else None)
        pe.drive(path, ports, max_firings=k)
        f.poll()
        _same(f, path)
    # every change came through the journal: run.json's checkpoints were explained by
    # their checkpoint events; the run was read again once, when the first drive stamped
    # its identity into run.json (journal_started)
    assert f.loads == 2


def test_the_follower_reloads_when_run_json_changes_behind_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    shutil.copy(EXAMPLES / "diamond.json", path)
    f = RunFollower(path)
    f.poll()
    pe.drive(path, FakePorts(), max_firings=2)
    f.poll()
    assert f.loads == 2                             # the first drive stamped the identity
    doc = json.loads(path.read_text())
    doc["facts"] = {"edited": "by hand"}
    path.write_text(json.dumps(doc))
    assert f.poll() and f.loads == 3 and f.run is not None
    assert dict(f.run.facts) == {"edited": "by hand"}
    v = f.version
    assert not f.poll() and f.version == v          # nothing changed: no new version
    out = pe.drive(path, FakePorts(fail={"execute:build": "no compiler"}))
    assert out.status == "halted"
    f.poll()
    _same(f, path)
    assert f.overlay.failed == "execute:build"
    assert pe.drive(path, FakePorts()).status == "completed"
    f.poll()
    _same(f, path)
    assert f.overlay.failed is None and f.run is not None and f.run.status == "done"
    pe.retry(path, "build")                         # journaled as slice_reset: read again
    loads = f.loads
    f.poll()
    _same(f, path)
    assert f.loads > loads and f.run.slice("build").status == "pending"
    assert pe.drive(path, FakePorts()).status == "completed"
    f.poll()
    _same(f, path)


def test_a_file_that_goes_away_or_breaks_is_an_error_then_recovers(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    shutil.copy(EXAMPLES / "diamond.json", path)
    f = RunFollower(path)
    f.poll()
    good = f.run
    saved = path.read_bytes()
    path.unlink()
    assert f.poll() and f.error is not None
    assert f.error == (f"{path}: the run file is gone (deleted or moved); put it back and "
                       "this page recovers")
    assert f.run == good                            # the last good state stays
    path.write_text('{"version": 1, "run_id": ')
    assert f.poll() and f.error is not None and str(path) in f.error
    assert "JSON" in f.error or "json" in f.error
    path.write_bytes(saved)
    assert f.poll() and f.error is None and f.run == good
    journal = tmp_path / "run.events.jsonl"
    pe.drive(path, FakePorts(), max_firings=1)
    f.poll()
    with open(journal, "ab") as out:
        out.write(b'{"kind": "nonsense"}\n')
    assert f.poll() and f.error is not None and "journal" in f.error


def test_a_torn_last_line_waits_for_its_end(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    shutil.copy(EXAMPLES / "diamond.json", path)
    f = RunFollower(path)
    f.poll()
    pe.drive(path, FakePorts(), max_firings=1)
    f.poll()
    journal = tmp_path / "run.events.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join(lines[:-1]) + lines[-1][:10])
    f2 = RunFollower(path)
    f2.poll()
    assert f2.torn and f2.total == len(lines) - 1
    journal.write_bytes(b"".join(lines))
    assert f2.poll() and not f2.torn and f2.total == len(lines)


def test_run_stats_count_attempts_failures_and_logs(tmp_path: Path) -> None:
    doc = {"version": 1, "run_id": "stats", "template": "minimal", "slices": [
        {"id": "flaky", "depends_on": [],
         "meta": {"run": "test -f marker || { touch marker; echo first; exit 1; }"}},
        {"id": "calm", "depends_on": ["flaky"], "meta": {"run": "echo calm"}}]}
    path = tmp_path / "stats.json"
    path.write_text(json.dumps(doc))
    out = pe.drive(path, pe.ports.ShellPorts(), retries=1)
    assert out.status == "completed", out
    events, _ = read_journal(tmp_path / "stats.events.jsonl")
    stats = RunStats(pe.compile_run(pe.load_run(path)), events)
    flaky, calm = stats.lane("flaky"), stats.lane("calm")
    assert (flaky.attempts, flaky.failed, calm.attempts, calm.failed) == (2, 1, 1, 0)
    assert flaky.logs == ["stats.work/logs/flaky.run.1.log", "stats.work/logs/flaky.run.2.log"]
    assert flaky.first is not None and flaky.last is not None and flaky.last >= flaky.first
    assert not flaky.running and stats.lane("nothing").attempts == 0
    assert stats.lane("").attempts == 2                 # start and finish
    assert log_files(path) == {"flaky": ["stats.work/logs/flaky.run.1.log",
                                         "stats.work/logs/flaky.run.2.log"],
                               "calm": ["stats.work/logs/calm.run.1.log"]}


def test_the_catalog_finds_runs_in_directories_and_names_them_once(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    shutil.copy(EXAMPLES / "diamond.json", a / "run.json")
    shutil.copy(EXAMPLES / "checkout.json", b / "run.json")
    (a / "notes.json").write_text('{"about": "not a run"}')
    (a / "run.schema.json").write_text('{"run_id": "a schema that mentions run_id"}')
    (a / "broken.json").write_text('{"run_id": "half')
    assert not is_run_file(a / "notes.json") and not is_run_file(a / "run.schema.json")
    cat = Catalog([a, b / "run.json", a / "run.json"])
    assert sorted(cat.entries) == ["broken", "run", "run-2"]
    assert cat.single is None
    assert cat.entries["run"].path == b / "run.json"
    assert not cat.rescan()
    shutil.copy(EXAMPLES / "release.json", a / "release.json")
    assert cat.rescan() and "release" in cat.entries
    only = Catalog([b / "run.json"])
    assert only.single is not None and only.single.slug == "run"
    with pytest.raises(pe.UsageError, match="no such run file or directory"):
        Catalog([tmp_path / "missing.json"])


def test_the_guard_checks_host_origin_type_and_token() -> None:
    g = Guard.for_server("127.0.0.1", 8765, True, token="s3cret")
    ok = {"host": "127.0.0.1:8765", "origin": "http://127.0.0.1:8765",
          "content-type": "application/json", "x-petri-exec-token": "s3cret",
          "sec-fetch-site": "same-origin"}
    assert g.host_refusal(ok) is None and g.action_refusal("POST", ok) is None
    assert g.action_refusal("POST", {**ok, "host": "localhost:8765",
                                     "origin": "http://localhost:8765"}) is None
    assert g.host_refusal({"host": "evil.example:8765"}) == (
        "Host 'evil.example:8765' is not this server (127.0.0.1:8765, [::1]:8765, "
        "localhost:8765): open the address petri-exec serve printed")
    cases = {
        ("GET", "x-petri-exec-token", "s3cret"): "actions are POST requests, not GET",
        ("POST", "content-type", "text/plain"): "actions need a JSON body",
        ("POST", "origin", "http://evil.example"): "cross-origin request from "
                                                   "'http://evil.example' refused",
        ("POST", "origin", "null"): "cross-origin request from 'null' refused",
        ("POST", "sec-fetch-site", "cross-site"): "cross-site request (cross-site) refused",
        ("POST", "x-petri-exec-token", ""): "no token: open the address with #token=...",
        ("POST", "x-petri-exec-token", "s3cret-not"): "wrong token",
        ("POST", "host", "evil.example:8765"): "Host 'evil.example:8765' is not this server",
    }
    for (method, header, value), message in cases.items():
        refusal = g.action_refusal(method, {**ok, header: value})
        assert refusal is not None and refusal.startswith(message), (header, refusal)
    read_only = Guard.for_server("127.0.0.1", 8765, False)
    assert read_only.token is None
    assert (read_only.action_refusal("POST", ok) or "").startswith("actions are off")
    anywhere = Guard.for_server("0.0.0.0", 9000, True)
    assert anywhere.host_refusal({"host": "my-box:9000"}) is None
    assert anywhere.token is not None and len(anywhere.token) >= 40
    assert Guard.for_server("127.0.0.1", 1, True).token != anywhere.token

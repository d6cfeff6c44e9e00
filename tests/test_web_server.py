"""``petri-exec serve`` over HTTP, as a real subprocess: pages, event streams, logs, why,
the guard on actions, errors, and stopping on signals."""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import petri_exec as pe

from .test_cli import run_cli
from .webserver import Server

EXAMPLES = Path(__file__).resolve().parent.parent / "nets" / "examples"
FAKE_PORTS = "from petri_exec.testing import FakePorts\nPORTS = FakePorts()\n"


@pytest.fixture
def promoted_ready(tmp_path: Path) -> Path:
    """The checkout example driven to its end: only the manual gate host_promotion is left."""
    (tmp_path / "fakeports.py").write_text(FAKE_PORTS)
    shutil.copy(EXAMPLES / "checkout.json", tmp_path / "run.json")
    r = run_cli("drive", "run.json", "--ports", "fakeports:PORTS", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    return tmp_path


def _state(d: Path) -> tuple[bytes, bytes]:
    return (d / "run.json").read_bytes(), (d / "run.events.jsonl").read_bytes()


def test_a_run_page_its_stream_log_and_why(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "diamond.json", tmp_path / "diamond.json")
    assert run_cli("drive", "diamond.json", "--ports", "shell", "--max-firings", "3",
                   cwd=tmp_path).returncode == 5
    s = Server("diamond.json", cwd=tmp_path)
    try:
        status, headers, _ = s.request("GET", "/")
        assert status == 303 and headers["location"] == "/runs/diamond"
        status, headers, page = s.request("GET", "/runs/diamond")
        assert status == 200 and page.startswith("<!DOCTYPE html>")
        nonce = re.search(r"script-src 'nonce-([^']+)'", headers["content-security-policy"])
        assert nonce and f'<script nonce="{nonce[1]}">' in page and page.count("<script") == 1
        assert "default-src 'none'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert not re.search(r"\b(src|href)\s*=\s*[\"'](https?:)?//", page)  # nothing external
        for sid in ("summary", "picture", "waiting", "slices", "journal"):
            assert f'<section id="{sid}">' in page
        event = s.first_event("/runs/diamond/stream")
        assert event["error"] is None and event["view"] == "net"
        assert set(event["sections"]) == {"summary", "picture", "waiting", "slices", "journal"}
        assert "<svg" in event["sections"]["picture"]
        assert event["sections"]["slices"] in page          # one renderer: page == stream
        log = "diamond.work/logs/fetch.run.1.log"
        assert f'data-path="{log}"' in event["sections"]["slices"]
        status, _, text = s.request("GET", f"/runs/diamond/log?path={log}")
        assert status == 200 and text == "fetched src/main.py\n"
        for bad in ("../../../etc/passwd", "/etc/passwd", "diamond.json",
                    "diamond.work/logs/../../diamond.json"):
            status, _, text = s.request("GET", f"/runs/diamond/log?path={bad}")
            assert status == 404 and "not a log of this run" in text, bad
        status, _, text = s.request("GET", "/runs/diamond/why?transition=finish")
        assert status == 200 and json.loads(text)["text"].startswith(
            "finish is not enabled; it waits for:")
        status, _, text = s.request("GET", "/runs/diamond/why?slice=package")
        assert status == 200 and "execute:package" in json.loads(text)["text"]
        status, _, text = s.request("GET", "/runs/diamond/why?transition=nope")
        assert status == 404 and "nope" in json.loads(text)["text"]
        assert s.request("GET", "/runs/other")[0] == 404
        status, _, text = s.request("GET", "/runs/diamond", headers={"Host": "evil.example"})
        assert status == 403 and "is not this server" in text
        status, answer = s.act("diamond", "abandon", {"reason": "x"})
        assert status == 403 and answer["message"].startswith("actions are off")
    finally:
        code, err = s.stop()
    assert code == 0 and err.strip().endswith("petri-exec serve: stopped"), err
    assert "Traceback" not in err


def test_actions_need_the_token_and_the_same_origin(promoted_ready: Path) -> None:
    d = promoted_ready
    s = Server("run.json", "--allow-actions", "--ports", "fakeports:PORTS", cwd=d)
    assert s.token is not None
    try:
        before = _state(d)
        refused = [
            ({"X-Petri-Exec-Token": None}, "no token"),
            ({"X-Petri-Exec-Token": s.token + "x"}, "wrong token"),
            ({"Origin": "http://evil.example"}, "cross-origin request"),
            ({"Origin": "null"}, "cross-origin request"),
            ({"Sec-Fetch-Site": "cross-site"}, "cross-site request"),
            ({"Content-Type": "text/plain"}, "actions need a JSON body"),
        ]
        for headers, message in refused:
            status, answer = s.act("run", "fire", {"target": "host_promotion"}, headers)
            assert status == 403 and message in answer["message"], (headers, answer)
        status, _, text = s.request("GET", "/runs/run/actions/fire")
        assert status == 403 and "POST" in text
        status, _, text = s.request("POST", "/runs/run/actions/fire", {"target": "promotion"},
                                    {"Host": "evil.example", "X-Petri-Exec-Token": s.token,
                                     "Content-Type": "application/json"})
        assert status == 403 and "is not this server" in text
        assert _state(d) == before                     # nothing changed
        status, answer = s.act("run", "fire", {"target": "promotion"})
        assert status == 409 and "not enabled" in answer["message"]
        status, answer = s.act("run", "fire", {})
        assert status == 400 and answer["message"] == "fire needs a non-empty 'target'"
        assert _state(d) == before
        status, answer = s.act("run", "fire", {"target": "host_promotion"})
        assert (status, answer) == (200, {"ok": True, "message": "fired host_promotion: run "
                                                                 "status promoted"})
        assert pe.load_run(d / "run.json").status == "promoted"
        status, answer = s.act("run", "retry", {"target": "api"})
        assert (status, answer) == (200, {"ok": True, "message": "retried api: run status "
                                                                 "reports_initialized"})
        run = pe.load_run(d / "run.json")
        assert run.status == "reports_initialized" and run.slice("api").status == "pending"
        status, answer = s.act("run", "retry", {"target": "api"})
        assert status == 409 and "nothing to retry" in answer["message"]
        status, answer = s.act("run", "abandon", {"reason": "  "})
        assert status == 400
        status, answer = s.act("run", "abandon", {"reason": "changed our minds"})
        assert status == 200 and pe.load_run(d / "run.json").abandoned == "changed our minds"
    finally:
        code, _ = s.stop()
    assert code == 0


def test_a_directory_of_runs_has_an_index(tmp_path: Path) -> None:
    for name in ("diamond", "checkout", "verify-fails"):
        shutil.copy(EXAMPLES / f"{name}.json", tmp_path / f"{name}.json")
    (tmp_path / "notes.json").write_text("{}")
    (tmp_path / "half.json").write_text('{"version": 1, "run_id": "half')
    s = Server(str(tmp_path), cwd=tmp_path)
    try:
        status, _, page = s.request("GET", "/")
        assert status == 200
        for name in ("diamond", "checkout", "verify-fails"):
            assert f'href="/runs/{name}"' in page
        assert "notes" not in page
        event = s.first_event("/runs/half/stream")               # never loaded: no sections
        assert event["sections"] == {} and event["error"].startswith(
            f"{tmp_path / 'half.json'}: ")
        status, _, page = s.request("GET", "/runs/half")
        assert status == 200 and '<section id="slices"></section>' in page
        shutil.copy(EXAMPLES / "release.json", tmp_path / "release.json")
        s.first_event("/stream", lambda e: 'href="/runs/release"' in e["sections"]["index"])
        (tmp_path / "diamond.json").write_text("{broken")
        event = s.first_event("/runs/diamond/stream", lambda e: e["error"] is not None)
        assert event["error"].startswith(f"{tmp_path / 'diamond.json'}: ")
        assert "<svg" in event["sections"]["picture"]        # the last good state stays
        status, _, page = s.request("GET", "/runs/diamond")
        assert status == 200 and 'id="live-error"' in page
        s.first_event("/stream", lambda e: "diamond.json: " in e["sections"]["index"])
        (tmp_path / "checkout.json").unlink()
        event = s.first_event("/runs/checkout/stream", lambda e: e["error"] is not None)
        assert "the run file is gone" in event["error"]
    finally:
        code, err = s.stop(signal.SIGTERM)
    assert code == 0 and "Traceback" not in err


def test_titles_are_text_in_the_page(tmp_path: Path) -> None:
    nasty = 'Cart "API" <script>alert(1)</script>\nsecond line \u00e9\u6f22\U0001F680 &amp;'
    doc = {"version": 1, "run_id": "esc", "slices": [
        {"id": "api", "title": nasty, "depends_on": [], "facts": {"note": "<img src=x>"}}]}
    (tmp_path / "run.json").write_text(json.dumps(doc))
    s = Server("run.json", cwd=tmp_path)
    try:
        _, _, page = s.request("GET", "/runs/run")
        event = s.first_event("/runs/run/stream")
    finally:
        s.stop()
    for html in (page, *event["sections"].values()):
        assert "<script>alert" not in html and "<img src=x>" not in html
    assert page.count("<script") == 1
    assert "Cart &quot;API&quot; &lt;script&gt;alert(1)&lt;/script&gt;\nsecond line " \
           "\u00e9\u6f22\U0001F680 &amp;amp;" in event["sections"]["slices"]


def test_command_line_errors_are_one_line(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "diamond.json", tmp_path / "run.json")
    r = run_cli("serve", "missing.json", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "missing.json: no such run file or directory" in r.stderr
    r = run_cli("serve", "run.json", "--ports", "shell", cwd=tmp_path)
    assert r.returncode == 2 and "--ports is for actions (fire): add --allow-actions" in r.stderr
    r = run_cli("serve", "run.json", "--port", "70000", cwd=tmp_path)
    assert r.returncode == 2 and "--port 70000" in r.stderr
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        r = run_cli("serve", "run.json", "--port", str(busy.getsockname()[1]), cwd=tmp_path)
    finally:
        busy.close()
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "cannot listen on 127.0.0.1:" in r.stderr and "--port" in r.stderr
    r = run_cli("serve", "--help", cwd=tmp_path)
    assert r.returncode == 0 and "--allow-actions" in r.stdout and "RUN [RUN ...]" in r.stdout


def test_serving_does_not_load_the_web_stack_into_the_library() -> None:
    code = ("import sys, petri_exec, petri_exec.cli, petri_exec.views.web; "
            "print(sorted(m for m in ('starlette', 'uvicorn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_without_the_web_extra_serve_says_how_to_get_it(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "diamond.json", tmp_path / "run.json")
    code = ("import sys; sys.modules['uvicorn'] = None; "
            "from petri_exec.cli import main; sys.exit(main(sys.argv[1:]))")
    r = subprocess.run([sys.executable, "-c", code, "serve", "run.json", "--port", "0"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert r.stderr == ("petri-exec: error: petri-exec serve needs Starlette and uvicorn: "
                        "pip install 'petri-exec[web]' (Starlette and uvicorn)\n")

"""The live page in a real browser: headless Chromium (Debian's package, driven by Selenium
through the system chromedriver) watches ``petri-exec serve`` while a drive runs in another
process, opens logs and explanations, fires a manual gate with the token and is refused
without it, shows hostile titles as text, and survives a run file that breaks or goes away.

Set ``PETRI_EXEC_SCREENSHOTS=DIR`` to keep the screenshots (docs/images/ was made so)."""

from __future__ import annotations

import http.server
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import petri_exec as pe

from .conftest import need
from .test_cli import EXE, run_cli
from .webserver import Server

EXAMPLES = Path(__file__).resolve().parent.parent / "nets" / "examples"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FAKE_PORTS = "from petri_exec.testing import FakePorts\nPORTS = FakePorts()\n"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1400,1250")


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    need(os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK),
         "Chromium and chromedriver (apt-get install chromium chromium-driver)")
    need(importlib.util.find_spec("selenium") is not None, "selenium (the dev extra)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must not download anything
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def shoot(driver: Any, name: str, tmp_path: Path) -> Path:
    """A screenshot to $PETRI_EXEC_SCREENSHOTS (or the test's directory)."""
    where = Path(os.environ.get("PETRI_EXEC_SCREENSHOTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    path = where / name
    assert driver.save_screenshot(str(path))
    assert path.read_bytes().startswith(b"\x89PNG")
    return path


def wait(what: Callable[[], Any], timeout_s: float = 30.0, every_s: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = what()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(every_s)


def js(driver: Any, code: str) -> Any:
    return driver.execute_script(code)


def text_of(driver: Any, css: str) -> str:
    return str(js(driver, f"const e = document.querySelector({json.dumps(css)});"
                          "return e ? e.textContent : '';"))


def open_live(driver: Any, url: str) -> float:
    driver.get(url)
    wait(lambda: js(driver, "return window.petriExec && window.petriExec.updates > 0 && "
                            "document.getElementById('live-status').textContent === 'live'"))
    return float(js(driver, "return window.petriExec.loadedAt"))


def _sleepy_run(path: Path) -> None:
    def step(sid: str) -> str:
        # each step waits for the test's go-ahead (a file go.<id> beside the run), so the
        # test sees every state of the drive however slow the machine is
        return (f"echo {sid} starting; while [ ! -e ../go.{sid} ]; do sleep 0.02; done; "
                f"echo {sid} done")

    slices = [{"id": "fetch", "title": "Fetch the sources", "depends_on": []}] + [
        {"id": sid, "title": title, "depends_on": ["fetch"]}
        for sid, title in (("build", "Build"), ("lint", "Lint"), ("docs", "Write the docs"))
    ] + [{"id": "package", "title": "Package it", "depends_on": ["build", "lint", "docs"]}]
    for s in slices:
        s["meta"] = {"run": step(str(s["id"]))}
    path.write_text(json.dumps({"version": 1, "run_id": "nightly", "template": "minimal",
                                "slices": slices}, indent=2))


def test_the_page_follows_a_drive_in_another_process(browser: Any, tmp_path: Path) -> None:
    _sleepy_run(tmp_path / "nightly.json")
    s = Server("nightly.json", cwd=tmp_path)
    drive = None
    try:
        loaded = open_live(browser, s.url)
        assert browser.current_url.endswith("/runs/nightly")
        fired = "return document.querySelectorAll('#picture g.node.transition.fired').length"
        marked = ("return Array.from(document.querySelectorAll('#picture g.node.place.marked'"
                  ")).map(g => g.querySelector('a').getAttribute('xlink:title')).sort()"
                  ".join(' ')")
        assert js(browser, fired) == 0
        before = js(browser, marked)
        assert "run:created" in before and "slice:package:pending" in before
        # why does package wait? click its transition in the picture
        browser.find_element("css selector", '#picture g.node[id="t:execute:package"]').click()
        wait(lambda: "execute:package is not enabled; it waits for:" in text_of(
            browser, "#panel-text"))
        shoot(browser, "live-before.png", tmp_path)
        browser.find_element("id", "panel-close").click()

        drive = subprocess.Popen([EXE, "drive", "nightly.json", "--ports", "shell",
                                  "--max-parallel", "2", "--progress", "quiet"], cwd=tmp_path,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        running = ("return Array.from(document.querySelectorAll('#picture g.node.transition"
                   ".running')).map(g => g.id.split(':').pop())")
        seen: list[tuple[int, str]] = []
        shot_mid = False
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = (js(browser, fired), js(browser, marked))
            if not seen or state != seen[-1]:
                seen.append(state)
            now_running = js(browser, running)
            if not shot_mid and len(now_running) == 2:
                shoot(browser, "live-during.png", tmp_path)
                shot_mid = True
            for sid in now_running:  # seen running (and this state recorded): let it end
                (tmp_path / f"go.{sid}").touch()
            if "run status done" in text_of(browser, "#summary"):
                break
            time.sleep(0.1)
        assert drive.wait(timeout=60) == 0, drive.stdout.read() if drive.stdout else ""
        assert "run status done" in text_of(browser, "#summary")
        seen.append((js(browser, fired), js(browser, marked)))
        counts = [n for n, _ in seen]
        assert counts == sorted(counts) and counts[-1] == 7      # start, 5 slices, finish
        assert len({m for _, m in seen}) >= 4, seen             # the tokens moved, in steps
        assert js(browser, "return window.petriExec.loadedAt") == loaded   # never reloaded
        assert js(browser, "return window.petriExec.updates") >= 4
        assert shot_mid

        # each step's log: open build's from the slice board
        browser.find_element(
            "css selector", '#slices button.log[data-path="nightly.work/logs/build.run.1.log"]'
        ).click()
        wait(lambda: text_of(browser, "#panel-text") == "build starting\nbuild done\n")
        assert text_of(browser, "#panel-title") == "log nightly.work/logs/build.run.1.log"
        js(browser, "document.getElementById('slices').previousElementSibling.scrollIntoView()")
        shoot(browser, "live-log.png", tmp_path)
    finally:
        if drive is not None and drive.poll() is None:
            drive.kill()
        code, err = s.stop()
    assert code == 0 and "Traceback" not in err


@pytest.fixture
def gate(tmp_path: Path) -> Path:
    (tmp_path / "fakeports.py").write_text(FAKE_PORTS)
    shutil.copy(EXAMPLES / "checkout.json", tmp_path / "run.json")
    r = run_cli("drive", "run.json", "--ports", "fakeports:PORTS", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    return tmp_path


def _files(d: Path) -> tuple[bytes, bytes]:
    return (d / "run.json").read_bytes(), (d / "run.events.jsonl").read_bytes()


class _Evil(http.server.BaseHTTPRequestHandler):
    """Another origin's page that tries to act on the run, even knowing the token."""

    page = ""

    def do_GET(self) -> None:
        body = self.page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_actions_fire_with_the_token_and_are_refused_without(browser: Any, gate: Path,
                                                              tmp_path: Path) -> None:
    s = Server("run.json", "--allow-actions", "--ports", "fakeports:PORTS", cwd=gate)
    assert s.token is not None
    before = _files(gate)
    try:
        # 1. no token: the button is there, the server refuses, nothing changes
        loaded = open_live(browser, s.url)
        assert js(browser, "return window.petriExec.hasToken") is False
        button = '#waiting button.act[data-action="fire"][data-target="host_promotion"]'
        browser.find_element("css selector", button).click()
        wait(lambda: text_of(browser, "#action-status").startswith("refused: no token"))
        assert _files(gate) == before
        assert "run status promotion_prepared" in text_of(browser, "#summary")

        # 2. another origin, even with the token, cannot act
        _Evil.page = (
            "<script>const t = " + json.dumps(s.token) + "; const u = "
            + json.dumps(f"{s.url}runs/run/actions/fire") + ";"
            "fetch(u, {method: 'POST', headers: {'Content-Type': 'application/json', "
            "'X-Petri-Exec-Token': t}, body: JSON.stringify({target: 'host_promotion'})})"
            ".then(r => 'answered ' + r.status, e => 'blocked').then(a => {"
            "return fetch(u, {method: 'POST', mode: 'no-cors', headers: {'Content-Type': "
            "'text/plain'}, body: JSON.stringify({target: 'host_promotion'})})"
            ".then(() => a + ' sent', () => a + ' failed')}).then(a => document.title = a)"
            "</script>")
        evil = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Evil)
        threading.Thread(target=evil.serve_forever, daemon=True).start()
        try:
            browser.get(f"http://127.0.0.1:{evil.server_address[1]}/")
            wait(lambda: browser.title.startswith(("blocked", "answered")))
            assert browser.title == "blocked sent"     # the preflight failed; the simple
        finally:                                        # request reached us and was refused
            evil.shutdown()
        assert _files(gate) == before

        # 3. with the token: fired, and the page shows it without a reload
        loaded = open_live(browser, f"{s.url}#token={s.token}")
        assert js(browser, "return window.petriExec.hasToken") is True
        assert js(browser, "return location.hash") == ""   # the token left the address bar
        browser.find_element("css selector", button).click()
        wait(lambda: text_of(browser, "#action-status") == (
            "done: fired host_promotion: run status promoted"))
        wait(lambda: "run status promoted" in text_of(browser, "#summary"))
        assert js(browser, "return window.petriExec.loadedAt") == loaded
        assert pe.load_run(gate / "run.json").status == "promoted"
        js(browser, "const n = document.querySelector('#picture .net'); "
                    "n.scrollLeft = n.scrollWidth;")          # the gate is at the far right
        wait(lambda: js(browser, "return document.querySelector("
                                 "'#picture g.node[id=\"t:host_promotion\"].fired') !== null"))
        shoot(browser, "live-fired.png", tmp_path)
    finally:
        code, _ = s.stop()
    assert code == 0


def test_hostile_titles_are_text(browser: Any, tmp_path: Path) -> None:
    nasty = '\U0001F680 "API" <script>alert(1)</script>\nline two \u00e9\u6f22 <b>x</b>'
    doc = {"version": 1, "run_id": "esc<script>", "slices": [
        {"id": "api", "title": nasty, "depends_on": []},
        {"id": "ui", "title": "it's \"fine\" & <i>ok</i>", "depends_on": ["api"]}]}
    (tmp_path / "run.json").write_text(json.dumps(doc))
    s = Server("run.json", cwd=tmp_path)
    try:
        open_live(browser, s.url)
        for view in ("net", "slices"):
            open_live(browser, f"{s.url}runs/run?view={view}")
            assert js(browser, "return document.scripts.length") == 1
            assert js(browser, "return Array.from(document.querySelectorAll('b, i')).filter("
                               "e => ['x', 'ok'].includes(e.textContent)).length") == 0
            cells = js(browser, "return Array.from(document.querySelectorAll("
                                "'#slices td:nth-child(2)')).map(td => td.textContent)")
            assert cells == [nasty, "it's \"fine\" & <i>ok</i>"]
            svg = " ".join(js(browser, "return Array.from(document.querySelectorAll("
                                       "'#picture svg text')).map(t => t.textContent)"))
            assert '\U0001F680 "API" <script>alert(1)</script>' in svg   # labels are cut short
            assert browser.title == "esc<script> \u00b7 petri-exec"
        from selenium.common.exceptions import NoAlertPresentException

        with pytest.raises(NoAlertPresentException):
            browser.switch_to.alert.text  # noqa: B018 - no script ran
    finally:
        s.stop()


def test_a_broken_or_missing_run_file_shows_an_error_and_ctrl_c_stops(browser: Any,
                                                                       tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "diamond.json", tmp_path / "run.json")
    good = (tmp_path / "run.json").read_bytes()
    s = Server("run.json", cwd=tmp_path)
    try:
        open_live(browser, s.url)
        banner = "return document.getElementById('live-error')"
        assert js(browser, banner + ".hidden") is True
        (tmp_path / "run.json").unlink()
        wait(lambda: js(browser, banner + ".hidden") is False)
        assert "the run file is gone" in text_of(browser, "#live-error")
        assert "<svg" in js(browser, "return document.getElementById('picture').innerHTML")
        (tmp_path / "run.json").write_text('{"version": 1, "slices": [')
        wait(lambda: "run.json: " in text_of(browser, "#live-error")
             and "gone" not in text_of(browser, "#live-error"))
        (tmp_path / "run.json").write_bytes(good)
        wait(lambda: js(browser, banner + ".hidden") is True)
        assert s.proc.poll() is None                      # the server never crashed
    finally:
        code, err = s.stop(signal.SIGINT)
    assert code == 0 and err.strip().endswith("petri-exec serve: stopped")
    wait(lambda: text_of(browser, "#live-status").startswith("disconnected"))

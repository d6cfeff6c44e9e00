"""A real ``petri-exec serve`` subprocess for the web tests, and a small HTTP client for it."""

from __future__ import annotations

import http.client
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXE = str(Path(sys.executable).parent / "petri-exec")


class Server:
    """``petri-exec serve ARGS --port 0`` in ``cwd``, started and waited for."""

    def __init__(self, *args: str, cwd: Path, timeout_s: float = 30.0) -> None:
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen([EXE, "serve", *args, "--port", "0"], cwd=cwd,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env)
        self.lines: queue.Queue[str] = queue.Queue()
        self.out: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        self.url = ""
        self.token: str | None = None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            m = re.search(r"on (http://127\.0\.0\.1:\d+/)", line)
            if m:
                self.url = m[1]
            t = re.search(r"#token=(\S+)", line)
            if t:
                self.token = t[1]
            if "read-only" in line or t:
                break
        if not self.url:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=10)
            raise AssertionError(f"petri-exec serve did not start: {self.out} {err}")
        self.host = self.url.split("//")[1].rstrip("/")
        self.port = int(self.host.rsplit(":", 1)[1])

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.out.append(line)
            self.lines.put(line)

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        """One request: ``(status, headers (lower-case names), body text)``."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
            conn.request(method, path, body=data, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode()
        finally:
            conn.close()

    def act(self, slug: str, kind: str, body: dict[str, Any],
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        """An action as the page sends it (JSON, same origin, the token unless overridden)."""
        h = {"Content-Type": "application/json", "Origin": f"http://{self.host}"}
        if self.token:
            h["X-Petri-Exec-Token"] = self.token
        h.update(headers or {})
        h = {k: v for k, v in h.items() if v is not None}
        status, _, text = self.request("POST", f"/runs/{slug}/actions/{kind}", body, h)
        return status, json.loads(text)

    def first_event(self, path: str,
                    until: Callable[[dict[str, Any]], bool] = lambda e: True,
                    timeout_s: float = 20.0) -> dict[str, Any]:
        """The first ``sections`` event of an event stream for which ``until`` holds."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout_s)
        deadline = time.monotonic() + timeout_s
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            assert r.status == 200 and r.getheader("content-type", "").startswith(
                "text/event-stream")
            event = None
            while time.monotonic() < deadline:
                line = r.fp.readline().decode()
                if line.startswith("event: "):
                    event = line[7:].strip()
                elif line.startswith("data: ") and event == "sections":
                    data: dict[str, Any] = json.loads(line[6:])
                    if until(data):
                        return data
            raise AssertionError(f"no matching event on {path} in {timeout_s} s")
        finally:
            conn.close()

    def stop(self, sig: int = signal.SIGINT, timeout_s: float = 15.0) -> tuple[int, str]:
        """Send ``sig`` and wait: ``(exit code, stderr)``."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError(f"petri-exec serve did not stop on signal {sig}") from None
        assert self.proc.stderr is not None
        return self.proc.returncode, self.proc.stderr.read()

"""The live web server of ``petri-exec serve``: Starlette on uvicorn, Server-Sent Events.

Addresses (``SLUG`` is a run's short name, see :mod:`.catalog`):

- ``GET /``: the index of the served runs (a single run file goes straight to its page);
  ``GET /stream``: its updates.
- ``GET /runs/SLUG[?view=net|slices]``: the run's page; ``GET /runs/SLUG/stream``: its
  updates as Server-Sent Events (``event: sections``, one JSON object each time the run
  moves; a comment every 15 s keeps the connection open).
- ``GET /runs/SLUG/log?path=P``: a log file of the run (the last 256 KiB, as text); only
  files the run's steps named or the shell ports wrote, inside the run's directory.
- ``GET /runs/SLUG/why?transition=T`` (or ``slice=S``): what a step waits for.
- ``POST /runs/SLUG/actions/fire|retry|abandon``: see :mod:`.guard` and :mod:`.actions`.

Starlette and uvicorn (the ``web`` extra) are imported by :func:`make_app` and
:func:`serve`, never by ``import petri_exec``. Every response carries a
Content-Security-Policy that lets only this response's own inline script run.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import time
from collections.abc import Callable
from typing import Any

from ...analysis import why
from ...core.compile import marking_of
from ...errors import UnknownTransitionError, UsageError
from .actions import perform
from .catalog import Catalog, Entry
from .guard import Guard
from .page import LivePages, index_html, index_rows, live_html, log_files, payload_json

__all__ = ["WEB_HINT", "bind", "make_app", "serve"]

#: How to get the server's dependencies.
WEB_HINT = "pip install 'petri-exec[web]' (Starlette and uvicorn)"
_TICK_S = 0.25
_BEAT_S = 15.0
_LOG_BYTES = 256 * 1024


def _csp(nonce: str) -> str:
    return (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
            "img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'")


def make_app(catalog: Catalog, guard: Guard, ports: Any,
             should_exit: Callable[[], bool] = lambda: False,
             pages: LivePages | None = None) -> Any:
    """The ASGI application.

    Args:
        catalog: The served runs.
        guard: Who may talk and act.
        ports: The ports ``fire`` uses.
        should_exit: Tells the event streams to end (the server is stopping).
        pages: The page renderer (default: one for ``catalog``).

    Returns:
        A Starlette application.

    Raises:
        UsageError: Starlette is not installed.
    """
    try:  # the web extra: loaded only when serving
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import (
            HTMLResponse,
            JSONResponse,
            PlainTextResponse,
            RedirectResponse,
            Response,
            StreamingResponse,
        )
        from starlette.routing import Route
    except ImportError:
        raise UsageError(f"petri-exec serve needs Starlette and uvicorn: {WEB_HINT}") from None
    live = pages or LivePages(catalog, actions=guard.token is not None)

    def entry_of(request: Request) -> Entry | None:
        return catalog.entries.get(request.path_params["slug"])

    def view_of(request: Request) -> str | None:
        v = request.query_params.get("view")
        return v if v in ("net", "slices") else None

    def html(text: str, nonce: str, status: int = 200) -> Response:
        return HTMLResponse(text, status, headers={"content-security-policy": _csp(nonce)})

    def missing(slug: str) -> Response:
        return PlainTextResponse(f"no run {slug!r} here; see / for the served runs", 404)

    async def index(request: Request) -> Response:
        single = catalog.single
        if single is not None:
            return RedirectResponse(f"/runs/{single.slug}", 303)
        rows = await asyncio.to_thread(_rows, catalog, live)
        nonce = secrets.token_urlsafe(16)
        return html(index_html(rows, nonce, guard.token is not None), nonce)

    async def run_page(request: Request) -> Response:
        entry = entry_of(request)
        if entry is None:
            return missing(request.path_params["slug"])
        payload = await asyncio.to_thread(live.update, entry, view_of(request))
        nonce = secrets.token_urlsafe(16)
        return html(live_html(entry, payload, nonce, guard.token is not None), nonce)

    async def events(make: Callable[[], tuple[object, str]]) -> Any:
        sent: object = None
        beat = time.monotonic()
        while not should_exit():
            version, data = await asyncio.to_thread(make)
            if version != sent:
                sent, beat = version, time.monotonic()
                yield f"event: sections\ndata: {data}\n\n"
            elif time.monotonic() - beat > _BEAT_S:
                beat = time.monotonic()
                yield ": keep-alive\n\n"
            await asyncio.sleep(_TICK_S)

    def sse(make: Callable[[], tuple[object, str]]) -> Response:
        return StreamingResponse(events(make), media_type="text/event-stream",
                                 headers={"cache-control": "no-store"})

    async def run_stream(request: Request) -> Response:
        entry = entry_of(request)
        if entry is None:
            return missing(request.path_params["slug"])
        view = view_of(request)

        def make() -> tuple[object, str]:
            payload = live.update(entry, view)
            return payload["version"], payload_json(payload)

        return sse(make)

    async def index_stream(request: Request) -> Response:
        def make() -> tuple[object, str]:
            rows = _rows(catalog, live)
            text = payload_json({"sections": {"index": index_rows(rows)}, "error": None})
            return text, text

        return sse(make)

    async def log(request: Request) -> Response:
        entry = entry_of(request)
        if entry is None:
            return missing(request.path_params["slug"])
        text, status = await asyncio.to_thread(_read_log, entry,
                                               request.query_params.get("path", ""))
        return PlainTextResponse(text, status, headers={"cache-control": "no-store"})

    async def explain(request: Request) -> Response:
        entry = entry_of(request)
        if entry is None:
            return missing(request.path_params["slug"])
        text, status = await asyncio.to_thread(_why, entry, request.query_params)
        return JSONResponse({"text": text}, status)

    async def act(request: Request) -> Response:
        refusal = guard.action_refusal(request.method, {k.lower(): v for k, v in
                                                        request.headers.items()})
        if refusal is not None:
            return JSONResponse({"ok": False, "message": refusal}, 403)
        entry = entry_of(request)
        if entry is None:
            return missing(request.path_params["slug"])
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return JSONResponse({"ok": False, "message": "the body must be a JSON object"}, 400)
        result = await asyncio.to_thread(perform, request.path_params["kind"], entry.path,
                                         body, ports)
        return JSONResponse({"ok": result.ok, "message": result.message}, result.status)

    async def no_icon(request: Request) -> Response:
        return Response(status_code=204)

    app = Starlette(routes=[
        Route("/", index), Route("/stream", index_stream), Route("/favicon.ico", no_icon),
        Route("/runs/{slug}", run_page), Route("/runs/{slug}/stream", run_stream),
        Route("/runs/{slug}/log", log), Route("/runs/{slug}/why", explain),
        Route("/runs/{slug}/actions/{kind}", act, methods=["POST", "GET", "PUT", "DELETE"]),
    ])
    return _Guarded(app, guard)


def _rows(catalog: Catalog, live: LivePages) -> list[dict[str, object]]:
    catalog.rescan()
    return [live.summary(e) for e in list(catalog.entries.values())]


def _read_log(entry: Entry, asked: str) -> tuple[str, int]:
    """The tail of a log the run knows, or why not (text, HTTP status)."""
    f = entry.follower
    known = {p for ps in log_files(entry.path).values() for p in ps}
    if f.stats is not None:
        known.update(p for lane in f.stats.lanes.values() for p in lane.logs)
    base = entry.path.parent.resolve()
    if asked not in known:
        return f"{asked!r} is not a log of this run", 404
    target = (base / asked).resolve()
    if not target.is_relative_to(base) or not target.is_file():
        return f"{asked!r} is not a file inside the run's directory", 404
    try:
        with open(target, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - _LOG_BYTES))
            data = fh.read(_LOG_BYTES)
    except OSError as e:
        return f"{asked}: cannot read it ({e.strerror})", 404
    head = f"[... the first {size - len(data)} bytes are not shown]\n" if size > len(data) else ""
    return head + data.decode("utf-8", errors="replace"), 200


def _why(entry: Entry, query: Any) -> tuple[str, int]:
    """``pe.why`` of a transition (or of a slice's next step) as text (text, HTTP status)."""
    f = entry.follower
    if f.run is None or f.net is None or f.template is None:
        return f.error or "the run has not loaded", 409
    name = query.get("transition")
    sid = query.get("slice")
    if not name and sid:
        try:
            s = f.run.slice(sid)
        except KeyError:
            return f"no slice {sid!r} in this run", 404
        pos = f.template.slice.position(s.status)
        if pos >= len(f.template.slice.steps):
            return f"slice {sid!r} is {s.status!r}: it has no step left", 200
        name = f"{f.template.slice.steps[pos].name}:{sid}"
    if not name:
        return "name a transition (?transition=...) or a slice (?slice=...)", 400
    try:
        return why(f.net, marking_of(f.run), name).explain(), 200
    except UnknownTransitionError as e:
        return str(e), 404


class _Guarded:
    """ASGI middleware: the Host check on every request, and security headers."""

    def __init__(self, app: Any, guard: Guard) -> None:
        self.app, self.guard = app, guard

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        refusal = self.guard.host_refusal(headers)
        if refusal is not None:
            body = refusal.encode()
            await send({"type": "http.response.start", "status": 403, "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return

        async def send_secured(message: Any) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"x-content-type-options", b"nosniff"),
                         (b"x-frame-options", b"DENY"), (b"referrer-policy", b"no-referrer")]
                if not any(k.lower() == b"content-security-policy"
                           for k, _ in message.get("headers", [])):
                    extra.append((b"content-security-policy", _csp("-").encode()))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_secured)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (``port`` 0 picks a free one).

    Raises:
        UsageError: The address cannot be bound (in use, not this machine's).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port} ({e.strerror}): choose another "
                         "--port (0 picks a free one) or --host") from None
    sock.set_inheritable(True)
    return sock


def serve(catalog: Catalog, sock: socket.socket, guard: Guard, ports: Any,
          announce: Callable[[int], None] = lambda port: None) -> None:
    """Serve until interrupted (SIGINT or SIGTERM end it cleanly; open pages' event streams
    end within a quarter second).

    Args:
        catalog: The served runs.
        sock: The listening socket (from :func:`bind`).
        guard: Who may talk and act.
        ports: The ports ``fire`` uses.
        announce: Called with the port once the server listens.

    Raises:
        UsageError: uvicorn is not installed.
    """
    try:  # the web extra: loaded only when serving
        import uvicorn
    except ImportError:
        raise UsageError(f"petri-exec serve needs Starlette and uvicorn: {WEB_HINT}") from None
    box: list[uvicorn.Server] = []
    app = make_app(catalog, guard, ports, lambda: bool(box and box[0].should_exit))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=3, server_header=False)
    server = uvicorn.Server(config)
    box.append(server)
    port = sock.getsockname()[1]

    async def main() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if server.started:
            announce(port)
        await task

    asyncio.run(main())


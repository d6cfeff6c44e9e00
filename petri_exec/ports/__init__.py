"""Ports: the protocol a step's side effect goes through (``StepContext`` in, ``StepResult``
out, and how a callable's return value or exception becomes one), the built-in handlers of
the templates, and the built-in port sets (``ShellPorts``).

Public namespace. Imports: ``core``, ``run``, ``interchange``, ``errors``; never the engine
(a handler gets narrow capabilities through ``HandlerEnv``, never the driver).
"""

from __future__ import annotations

from .handlers import HANDLERS, HandlerEnv
from .protocol import (
    PortCaller,
    StepContext,
    StepResult,
    exception_result,
    missing_port_reason,
    normalise_result,
    resolve_port,
    timeout_result,
)
from .shell import ShellPorts

__all__ = [
    "HANDLERS",
    "HandlerEnv",
    "PortCaller",
    "ShellPorts",
    "StepContext",
    "StepResult",
    "exception_result",
    "missing_port_reason",
    "normalise_result",
    "resolve_port",
    "timeout_result",
]

"""Nets in other formats: PNML (ISO/IEC 15909-2 P/T), SNAKES nets, and the documented JSON
form (``docs/net.schema.json``).

Pure conversions (bytes or objects in, nets out, and back). Imports: ``core``, ``run``,
``errors``; never ``analysis`` (a sibling), the engine, ports, views or the command line.
"""

from __future__ import annotations

from .netjson import net_json
from .pnml import CORE_TYPE, PNML_NS, PTNET_TYPE, TOOL, split_loops, to_pnml
from .pnmlread import PnmlNet, from_pnml, read_pnml
from .snakes_bridge import from_snakes, to_snakes

__all__ = [
    "CORE_TYPE",
    "PNML_NS",
    "PTNET_TYPE",
    "PnmlNet",
    "TOOL",
    "from_pnml",
    "from_snakes",
    "net_json",
    "read_pnml",
    "split_loops",
    "to_pnml",
    "to_snakes",
]

"""Write the pm4py-exported PNML files beside this script (pm4py must be installed).

The nets are pm4py's own: workflow nets its inductive and heuristics miners discover from
logs played out of seeded random process trees, and an inhibitor and a reset net built with
its API. The files are pm4py's output, kept so that the tests read real pm4py files even
where pm4py is absent. Run from the repository root: ``python tests/nets/pm4py/regenerate.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent.parent))

from tests.pm4py_support import discovered, export, pm4py_or_skip  # noqa: E402


def special(kind: str) -> bytes:
    """A net with one inhibitor or reset arc, made with pm4py's API."""
    pm4py_or_skip()
    from pm4py.objects.petri_net.obj import InhibitorNet, Marking, ResetNet
    from pm4py.objects.petri_net.utils.petri_utils import add_arc_from_to

    cls = InhibitorNet if kind == "inhibitor" else ResetNet
    net = cls(kind)
    p, q, guard = cls.Place("p"), cls.Place("q"), cls.Place("guard")
    t = cls.Transition("t", "move")
    for x in (p, q, guard):
        net.places.add(x)
    net.transitions.add(t)
    add_arc_from_to(p, t, net)
    add_arc_from_to(t, q, net)
    add_arc_from_to(guard, t, net, type=kind)
    return export(net, Marking({p: 1}))


def main() -> None:
    """Write the files."""
    net, im, fm = discovered(7, "inductive")
    (HERE / "inductive-7.pnml").write_bytes(export(net, im, fm))
    (HERE / "inductive-7-prom5.pnml").write_bytes(export(net, im, fm, prom5=True))
    net, im, fm = discovered(3, "heuristics")
    (HERE / "heuristics-3.pnml").write_bytes(export(net, im, fm))
    for kind in ("inhibitor", "reset"):
        (HERE / f"{kind}.pnml").write_bytes(special(kind))


if __name__ == "__main__":
    main()

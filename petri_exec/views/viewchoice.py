"""Which view ``visualize`` draws by default: the net view while its picture stays readable.

The net view's size is estimated from the net's structure, without laying it out: Graphviz
puts each place and transition in a column (its rank: the longest chain of arcs leading to
it, read arcs included, as the net view draws them as layout constraints), about 80 pt
apart, and gives each slice lane a row of about 88 pt (two rows for a slice of an epic whose
slices depend on each other: their boxes cannot share rows), plus 120 pt for the run lane
and the title. On the example runs and on chains, fans, diamonds and epics of 1 to 30
slices of both templates, the estimate is within 25 % of the size system Graphviz draws
(``tests/test_viewchoice.py`` checks it). Linear in the net's arcs.
"""

from __future__ import annotations

import attrs

from ..core.net import Net
from ..run.model import Run

__all__ = ["NET_VIEW_MAX_AREA_PT2", "NET_VIEW_MAX_SIDE_PT", "ViewChoice", "choose_view",
           "net_view_size"]

#: The net view is the default while its estimated area is at most this (about six
#: screens at 100 % zoom) ...
NET_VIEW_MAX_AREA_PT2 = 6_000_000
#: ... and neither side is longer than this.
NET_VIEW_MAX_SIDE_PT = 10_000

_RANK_PT = 80.0
_LANE_PT = 88.0
_MARGIN_PT = 120.0


@attrs.frozen
class ViewChoice:
    """The view chosen for a run and why.

    Attributes:
        view: ``"net"`` or ``"slices"``.
        width_pt: The net view's estimated width in points.
        height_pt: Its estimated height.
    """

    view: str
    width_pt: float
    height_pt: float

    @property
    def reason(self) -> str:
        """One line saying which view was chosen and why, for the command line."""
        size = f"{self.width_pt:,.0f} x {self.height_pt:,.0f} pt"
        if self.view == "net":
            return (f"drew the net view (estimated {size}; readable up to "
                    f"{NET_VIEW_MAX_AREA_PT2:,} pt2 and {NET_VIEW_MAX_SIDE_PT:,} pt a side); "
                    "--view slices draws one node per slice")
        return (f"drew the slices view: the net view would be about {size}, past "
                f"{NET_VIEW_MAX_AREA_PT2:,} pt2 or {NET_VIEW_MAX_SIDE_PT:,} pt a side; "
                "--view net draws it anyway")


def net_view_size(net: Net, run: Run) -> tuple[float, float]:
    """The net view's estimated size in points, without laying it out.

    Args:
        net: The run's compiled net.
        run: The run (its slices and epics).

    Returns:
        ``(width, height)`` in points.
    """
    n_places = len(net.places)
    n = n_places + len(net.transitions)
    succ: list[list[int]] = [[] for _ in range(n)]
    indeg = [0] * n
    for t in net.transitions:
        node = n_places + t.index
        for p, _w in (*net.consume[t.index], *net.read[t.index]):
            succ[p].append(node)
            indeg[node] += 1
        for p, _w in net.produce[t.index]:
            succ[node].append(p)
            indeg[p] += 1
    level = [0] * n
    todo = [k for k in range(n) if not indeg[k]]
    while todo:
        k = todo.pop()
        for m in succ[k]:
            if level[k] + 1 > level[m]:
                level[m] = level[k] + 1
            indeg[m] -= 1
            if not indeg[m]:
                todo.append(m)
    ranks = max(level, default=0) + 1
    epic_of = {s.id: s.epic for s in run.slices}
    inner = {s.epic for s in run.slices if s.epic is not None
             and any(epic_of.get(d) == s.epic for d in s.depends_on)}
    tangled = sum(1 for s in run.slices if s.epic in inner)
    return (_RANK_PT * ranks, _MARGIN_PT + _LANE_PT * (len(run.slices) + tangled))


def choose_view(net: Net, run: Run) -> ViewChoice:
    """The net view while its estimated picture is readable, else the slices view.

    Args:
        net: The run's compiled net.
        run: The run.

    Returns:
        The choice, with the estimate it rests on.
    """
    width, height = net_view_size(net, run)
    readable = (width * height <= NET_VIEW_MAX_AREA_PT2
                and max(width, height) <= NET_VIEW_MAX_SIDE_PT)
    return ViewChoice("net" if readable else "slices", width, height)

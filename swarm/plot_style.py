"""How every plot of the project looks and is labelled: the unit of each metric, a distinct
style per team, and figure frames with a caption and a legend outside the axes.

Shared by the run plots (`swarm.plots`) and the sweep plots (`swarm.sweep_table`). Figures
use matplotlib's object API on the Agg canvas with constrained layout: no pyplot, no display,
no global state, and the caption and the legend get their own room, so a legend never covers
data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = [
    "UNITS",
    "Style",
    "axis_label",
    "descriptive",
    "finish",
    "grid_figure",
    "markevery",
    "new_figure",
    "team_styles",
]

_FRACTION, _AUC = "fraction 0–1", "0–1"
#: Unit of every metric, per-tick column and cost a plot may draw (docs/scenarios.md
#: "Metrics"; a test keeps the two in step and checks every metric the worlds emit is here).
UNITS: dict[str, str] = {
    # end-of-mission metrics
    "time_to_find": "ticks",
    "found": _FRACTION,
    "coverage": _FRACTION,
    "prob_weighted_coverage": _FRACTION,
    "false_alarms": "count",
    "inspections": "count",
    "inspected_cells": "count",
    "concept_witnesses": "count",
    "concept_sample_holders": "count",
    "avg_idleness": "ticks",
    "worst_idleness": "ticks",
    "detection_latency": "ticks",
    "precision": _FRACTION,
    "recall": _FRACTION,
    "reports": "count",
    "events": "count",
    "altitude_violations": "count",
    "nofly_violations": "count",
    "depleted": "count",
    "distance": "m",
    "energy": "Wh",
    "ticks": "ticks",
    "auc": _AUC,
    "field_auc": _AUC,
    "field_probe_auc": _AUC,
    # per-tick columns that are not end metrics
    "idleness": "ticks",
    "active_litter": "count",
    "charging": "count",
    # costs and sizes
    "train_steps": "steps",
    "cpu_seconds": "s",
    "wall_seconds": "s",
    "wire_messages": "messages",
    "rejected_messages": "messages",
    "wire_bytes": "bytes",
    "host_socket_messages": "messages",
    "host_socket_received": "messages",
    "host_socket_bytes": "bytes",
    "inference_flops": "FLOPs",
    "train_flops": "FLOPs",
    "quarantined_brains": "count",
    # injected faults (swarm.faults.FAULT_STATS)
    "fault_lost": "links",
    "fault_partitioned": "links",
    "fault_delayed": "links",
    "byzantine_sent": "messages",
    "crashed_drones": "count",
    "params_per_brain": "parameters",
    "brains": "count",
    "drones": "count",
    "horizon": "ticks",
}


def axis_label(name: str) -> str:
    """`name (unit)` for an axis; a name without a documented unit says so."""
    return f"{name} ({UNITS.get(name, 'unit not documented')})"


def descriptive(name: str) -> bool:
    """Is `name` a metric the scorecard marks as descriptive (no better direction)? Such
    metrics get no curve of their own (`inspections` repeats `false_alarms` plus the finds)."""
    from swarm.scorecard import METRICS
    from swarm.stats import Better

    return name in METRICS and METRICS[name].better is Better.NEITHER


@dataclass(frozen=True)
class Style:
    """How one team is drawn: colour, dash pattern, line width, marker, drawing order."""

    color: str
    linestyle: str
    linewidth: float
    marker: str
    zorder: float

    def line(self) -> dict[str, Any]:
        """Keyword arguments of `Axes.plot` / `Axes.step` for this team."""
        return {
            "color": self.color,
            "linestyle": self.linestyle,
            "linewidth": self.linewidth,
            "marker": self.marker,
            "zorder": self.zorder,
        }


_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
           "tab:pink", "tab:gray", "tab:olive", "tab:cyan")  # fmt: skip
_DASHES = ("-", "--", "-.", ":")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def team_styles(teams: Sequence[str]) -> dict[str, Style]:
    """A distinct `Style` per team: the first drawn widest and lowest, later ones narrower and
    dashed on top, so a curve equal to another's still shows as a halo around it."""
    n = len(teams)
    out = {}
    for i, team in enumerate(teams):
        width = 1.2 + 2.0 * (n - 1 - i) / max(n - 1, 1)
        out[team] = Style(
            _COLORS[i % len(_COLORS)],
            _DASHES[i % len(_DASHES)],
            width,
            _MARKERS[i % len(_MARKERS)],
            2.0 + i,
        )
    return out


def new_figure(
    title: str, xlabel: str, ylabel: str, panels: int = 1, sharey: bool = False
) -> tuple[Figure, list[Axes]]:
    """A figure of `panels` axes, three to a row, with a title and axis labels (constrained
    layout: the caption and an outside legend get their own space)."""
    cols = min(3, panels)
    rows = (panels + cols - 1) // cols
    fig = Figure(figsize=(4.2 * cols + 2.4, 3.6 * rows + 0.6), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.subplots(rows, cols, sharey=sharey, squeeze=False).ravel()
    for extra in grid[panels:]:
        extra.remove()
    axes = list(grid[:panels])
    fig.suptitle(title)
    for ax in axes:
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    return fig, axes


def grid_figure(n: int, title: str) -> tuple[Figure, list[Axes]]:
    """A figure of `n` panels, three to a row, with a title (labels are the caller's)."""
    cols = min(3, n)
    rows = (n + cols - 1) // cols
    fig = Figure(figsize=(4.2 * cols, 3.3 * rows + 0.8), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(n)]
    fig.suptitle(title)
    for ax in axes:
        ax.grid(alpha=0.3)
    return fig, axes


def finish(fig: Figure, caption: str, order: Sequence[str] = ()) -> Figure:
    """Put the legend (if any series is labelled) outside the axes, entries in `order` first
    (the teams), and the caption below."""
    entries: dict[str, Any] = {}
    for ax in fig.axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(lab, h)
    labels = [lab for lab in order if lab in entries] + [e for e in entries if e not in order]
    if labels:
        fig.legend([entries[lab] for lab in labels], labels, loc="outside right upper",
                   fontsize="small")  # fmt: skip
    fig.supxlabel(caption, fontsize="x-small", wrap=True)
    return fig


def markevery(i: int, n_teams: int, length: int) -> tuple[int, int]:
    """Staggered marker positions: team i's markers start i/n of a spacing later."""
    every = max(1, length // 8)
    return (round(i * every / max(n_teams, 1)) % every, every)

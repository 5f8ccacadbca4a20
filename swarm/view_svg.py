"""A recorded mission drawn as SVG text: the map at one tick, belief maps and metric curves.

Pure functions of a `swarm.trajectory.Trajectory` and a tick, shared by the browser viewer
(`swarm.view_app`) and nothing else; the video export draws with matplotlib instead
(`swarm.view_export`). Map coordinates are cells: x = column, y = row, a cell's centre at
(+0.5, +0.5). Every drawn thing carries a class and data attributes, so a browser test can
count drones (`circle.drone`) and the round's edges (`line.edge`) without reading pixels:

    <svg class="mission-map" data-team data-seed data-tick data-round data-hub data-drones
         data-edges>
      <image class="terrain"/> <g class="static"/> <g class="litter"/> <g class="footprints"/>
      <g class="trails"/> <g class="edges"><line class="edge" data-kind data-src data-dst
      data-bytes data-status/>...</g> <g class="events"/> <g class="drones"><circle
      class="drone" data-drone data-row data-col/>...</g>
    </svg>
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping

import numpy as np

from protocols.messages import Kind
from swarm.trajectory import CENTRE, EventKind, Trajectory

__all__ = [
    "EVENT_STYLE",
    "KIND_COLOURS",
    "TERRAIN_COLOURS",
    "belief_png",
    "curves_svg",
    "edge_width",
    "map_svg",
    "png_uri",
    "terrain_png",
]

#: Terrain code (scenarios.terrain.Terrain) -> RGB in [0, 1].
TERRAIN_COLOURS = np.array(
    [
        (0.78, 0.87, 0.62),  # grass
        (0.42, 0.62, 0.40),  # forest
        (0.55, 0.72, 0.90),  # water
        (0.55, 0.55, 0.55),  # road
        (0.80, 0.60, 0.55),  # building
    ]
)
#: Message kind -> stroke colour of its edges.
KIND_COLOURS = {
    Kind.HEARTBEAT: "#7f7f7f",
    Kind.DELTA: "#1f77b4",
    Kind.BELIEF: "#ff7f0e",
    Kind.OBS: "#9467bd",
    Kind.CLAIM: "#2ca02c",
}
#: Event kind -> (marker glyph, colour, label).
EVENT_STYLE = {
    EventKind.INSPECT: ("○", "#555555", "inspection"),
    EventKind.FALSE_ALARM: ("✕", "#d62728", "false alarm"),
    EventKind.FIND: ("★", "#2ca02c", "find"),
    EventKind.REPORT: ("▲", "#8c564b", "report"),
    EventKind.CREW_CONFIRM: ("✓", "#2ca02c", "crew confirms"),
    EventKind.CREW_REJECT: ("✕", "#d62728", "crew rejects"),
    EventKind.CHARGE_START: ("⚡", "#bcbd22", "charging"),
    EventKind.CHARGE_END: ("·", "#bcbd22", "charged"),
}
DRONE_COLOUR = "#111111"
HUB_COLOUR = "#e377c2"
MARGIN = 1.5  # cells around the map (room for the central team's centre node)


def png_uri(rgb: np.ndarray) -> str:
    """(H, W, 3|4) floats in [0, 1] -> a `data:image/png;base64,...` URI (one pixel a cell)."""
    import matplotlib.image as mpimg

    buf = io.BytesIO()
    mpimg.imsave(buf, np.clip(rgb, 0, 1), format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def terrain_png(traj: Trajectory) -> str:
    """The terrain (and, for search, the public prior as shading) as a PNG data URI."""
    terrain = traj["terrain"].astype(np.int64)
    rgb = TERRAIN_COLOURS[np.clip(terrain, 0, len(TERRAIN_COLOURS) - 1)]
    prior = traj.get("prior")
    if prior is not None and prior.max() > 0:  # likelier cells a little darker
        rgb = rgb * (1.0 - 0.35 * (prior / prior.max()))[..., None]
    return png_uri(rgb)


def belief_png(belief: np.ndarray) -> str:
    """One (H, W) belief map, min-max scaled through viridis, as a PNG data URI."""
    from matplotlib import colormaps

    b = np.asarray(belief, np.float64)
    lo, hi = float(np.nanmin(b)), float(np.nanmax(b))
    scaled = (b - lo) / (hi - lo) if hi > lo else np.zeros_like(b)
    return png_uri(colormaps["viridis"](scaled)[..., :3])


def edge_width(nbytes: float) -> float:
    """Stroke width in cells of an edge carrying `nbytes` (logarithmic: 0.06 .. 0.6)."""
    return float(min(0.6, 0.06 + 0.06 * math.log2(1.0 + max(nbytes, 0.0) / 64.0)))


def _centre_xy(shape: tuple[int, int]) -> tuple[float, float]:
    return shape[1] + MARGIN / 2, -MARGIN / 2


def map_svg(
    traj: Trajectory,
    t: int,
    terrain_uri: str,
    *,
    trail: int = 20,
    focus: int | None = None,
    width_px: int = 460,
) -> str:
    """The mission after tick `t` (0 = start) as one <svg> (see the module docstring).

    Drones with their camera footprints and the last `trail` ticks of their paths; the edges
    of the last knowledge round (the `central` team: this tick's uploads to the centre),
    coloured by message kind, width by bytes, dashed red where rejected; the hub ringed; the
    events so far as markers; `focus` marks the drone whose belief is shown beside the map."""
    t = int(min(max(t, 0), traj.ticks))
    h, w = (int(v) for v in traj.meta["shape"])
    pos, radius = traj["pos"][t], traj["radius"][t]
    n = pos.shape[0]
    hub, term = traj.hub_at(t)
    rnd = traj.round_at(t)
    edges = traj.edges_at(t)
    m = MARGIN
    height_px = int(width_px * (h + 2 * m) / (w + 2 * m))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="mission-map" '
        f'viewBox="{-m} {-m} {w + 2 * m} {h + 2 * m}" width="{width_px}" height="{height_px}" '
        f'data-team="{html.escape(str(traj.meta["team"]))}" data-seed="{traj.meta["seed"]}" '
        f'data-tick="{t}" data-round="{rnd}" data-hub="{hub}" data-term="{term}" '
        f'data-drones="{n}" data-edges="{len(edges["src"])}">',
        f'<rect x="{-m}" y="{-m}" width="{w + 2 * m}" height="{h + 2 * m}" fill="#fafafa"/>',
        f'<image class="terrain" href="{terrain_uri}" x="0" y="0" width="{w}" height="{h}" '
        'preserveAspectRatio="none" style="image-rendering:pixelated"/>',
    ]
    out += _static(traj)
    out += _litter(traj, t)
    out.append('<g class="footprints">')
    for i in range(n):
        r, (row, col) = int(radius[i]), pos[i]
        out.append(
            f'<rect class="footprint" x="{col - r}" y="{row - r}" width="{2 * r + 1}" '
            f'height="{2 * r + 1}" fill="#ffffff" fill-opacity="0.12" stroke="#333" '
            'stroke-opacity="0.35" stroke-width="0.06"/>'
        )
    out.append('</g><g class="trails">')
    for i in range(n):
        path = traj["pos"][max(0, t - trail) : t + 1, i]
        pts = " ".join(f"{c + 0.5},{r + 0.5}" for r, c in path.tolist())
        out.append(
            f'<polyline class="trail" points="{pts}" fill="none" stroke="#222" '
            'stroke-opacity="0.45" stroke-width="0.12"/>'
        )
    out.append("</g>")
    out += _edges(edges, pos, (h, w))
    out += _events(traj, t)
    out.append('<g class="drones">')
    for i in range(n):
        row, col = pos[i]
        cls = "drone hub" if i == hub else "drone"
        busy = bool(traj["busy"][t, i])
        fill = HUB_COLOUR if i == hub else ("#ffbf00" if busy else DRONE_COLOUR)
        ring = ' stroke="#e41a1c" stroke-width="0.18"' if focus == i else ' stroke="white"'
        out.append(
            f'<circle class="{cls}" data-drone="{i}" data-row="{row}" data-col="{col}" '
            f'cx="{col + 0.5}" cy="{row + 0.5}" r="0.45" fill="{fill}"{ring} '
            f'stroke-width="0.1"><title>drone {i}: alt {float(traj["alt"][t, i]):.0f} m, '
            f"battery {100 * float(traj['battery'][t, i]):.0f} %</title></circle>"
        )
    out.append("</g></svg>")
    return "".join(out)


def _static(traj: Trajectory) -> list[str]:
    out = ['<g class="static">']
    for name, colour in (("nofly", "#d62728"), ("zone", "#ff7f0e")):
        mask = traj.get(name)
        if mask is None:
            continue
        for r, c in np.argwhere(mask).tolist():
            out.append(
                f'<rect class="{name}" x="{c}" y="{r}" width="1" height="1" fill="{colour}" '
                'fill-opacity="0.25"/>'
            )
    markers = (
        ("targets", "#2ca02c", "target (truth)"),
        ("distractors", "#7f7f7f", "look-alike (truth)"),
        ("stations", "#bcbd22", "charging station"),
        ("bins", "#8c564b", "bin"),
    )
    for name, colour, label in markers:
        cells = traj.get(name)
        if cells is None:
            continue
        for r, c in cells.tolist():
            out.append(
                f'<rect class="{name}" x="{c + 0.15}" y="{r + 0.15}" width="0.7" height="0.7" '
                f'fill="none" stroke="{colour}" stroke-width="0.14"><title>{label}</title></rect>'
            )
    out.append("</g>")
    return out


def _litter(traj: Trajectory, t: int) -> list[str]:
    cells = traj.litter_at(t)
    out = ['<g class="litter">']
    for r, c in cells.tolist():
        out.append(
            f'<rect class="litter-item" x="{c + 0.3}" y="{r + 0.3}" width="0.4" height="0.4" '
            'fill="#8c564b"/>'
        )
    out.append("</g>")
    return out


def _edges(edges: Mapping[str, np.ndarray], pos: np.ndarray, shape: tuple[int, int]) -> list[str]:
    out = ['<g class="edges">']
    cx, cy = _centre_xy(shape)
    if (edges["dst"] == CENTRE).any():
        out.append(
            f'<rect class="centre" x="{cx - 0.6}" y="{cy - 0.6}" width="1.2" height="1.2" '
            f'fill="{KIND_COLOURS[Kind.OBS]}"><title>centre host</title></rect>'
        )
    for s, d, k, b, st in zip(
        edges["src"].tolist(),
        edges["dst"].tolist(),
        edges["kind"].tolist(),
        edges["bytes"].tolist(),
        edges["status"].tolist(),
        strict=True,
    ):
        x1, y1 = pos[s, 1] + 0.5, pos[s, 0] + 0.5
        x2, y2 = (cx, cy) if d == CENTRE else (pos[d, 1] + 0.5, pos[d, 0] + 0.5)
        colour = "#d62728" if st else KIND_COLOURS.get(k, "#17becf")
        dash = ' stroke-dasharray="0.3 0.2"' if st else ""
        out.append(
            f'<line class="edge" data-kind="{Kind(k).name}" data-src="{s}" data-dst="{d}" '
            f'data-bytes="{b:.0f}" data-status="{"rejected" if st else "accepted"}" '
            f'x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{colour}" stroke-opacity="0.55" '
            f'stroke-width="{edge_width(b):.3f}"{dash}/>'
        )
    out.append("</g>")
    return out


EVENT_WINDOW = 100
"""Ticks an event marker stays on the map (a find stays for good)."""


def _events(traj: Trajectory, t: int) -> list[str]:
    tick, kind = traj["event_tick"], traj["event_kind"]
    sel = (tick <= t) & ((tick > t - EVENT_WINDOW) | (kind == EventKind.FIND))
    out = ['<g class="events">']
    for k, (r, c), tick, d in zip(
        traj["event_kind"][sel].tolist(),
        traj["event_cell"][sel].tolist(),
        traj["event_tick"][sel].tolist(),
        traj["event_drone"][sel].tolist(),
        strict=True,
    ):
        if k in (EventKind.INSPECT, EventKind.CHARGE_END):
            continue  # the inspection's outcome (or the charge) is the marker that matters
        glyph, colour, label = EVENT_STYLE[EventKind(k)]
        out.append(
            f'<text class="event" data-kind="{EventKind(k).name}" x="{c + 0.5}" y="{r + 0.8}" '
            f'font-size="1.1" text-anchor="middle" fill="{colour}">{glyph}'
            f"<title>{label}, drone {d}, tick {tick}</title></text>"
        )
    out.append("</g>")
    return out


def curves_svg(
    trajs: Mapping[str, Trajectory], metric: str, t: int, width_px: int = 460, height_px: int = 150
) -> str:
    """`metric` over the ticks for each labelled trajectory, with a cursor at tick `t`.

    `metric` is a per-tick column (`Trajectory.metrics`) or `field_auc_curve` (the field AUC
    at the probe ticks)."""
    colours = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
    series = {}
    for label, tr in trajs.items():
        if metric == "field_auc_curve":
            fc = tr["field_curve"]
            x, y = fc[:, 0], fc[:, 1]
        else:
            y = tr.metrics.get(metric)
            if y is None:
                continue
            x = np.arange(1, len(y) + 1)
        keep = np.isfinite(y)
        series[label] = (x[keep].astype(float), y[keep].astype(float))
    t_max = max([tr.ticks for tr in trajs.values()] + [1])
    ys = [v for _, y in series.values() for v in y.tolist()]
    lo, hi = (min(ys), max(ys)) if ys else (0.0, 1.0)
    if hi <= lo:
        hi = lo + 1.0
    pad_l, pad_b, pad_t = 44, 18, 8

    def sx(x: float) -> float:
        return pad_l + (width_px - pad_l - 8) * x / t_max

    def sy(y: float) -> float:
        return pad_t + (height_px - pad_t - pad_b) * (1 - (y - lo) / (hi - lo))

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="metric-curves" data-metric="{metric}" '
        f'data-tick="{t}" width="{width_px}" height="{height_px}" font-size="10">',
        f'<rect x="{pad_l}" y="{pad_t}" width="{width_px - pad_l - 8}" '
        f'height="{height_px - pad_t - pad_b}" fill="white" stroke="#ccc"/>',
        f'<text x="2" y="{pad_t + 8}">{hi:.3g}</text>',
        f'<text x="2" y="{height_px - pad_b}">{lo:.3g}</text>',
        f'<text x="{width_px - 40}" y="{height_px - 4}">tick {t_max}</text>',
    ]
    for i, (label, (x, y)) in enumerate(series.items()):
        colour = colours[i % len(colours)]
        pts = " ".join(f"{sx(a):.1f},{sy(b):.1f}" for a, b in zip(x, y, strict=True))
        out.append(
            f'<polyline class="curve" data-label="{html.escape(label)}" points="{pts}" '
            f'fill="none" stroke="{colour}" stroke-width="1.5"/>'
        )
        out.append(
            f'<text x="{pad_l + 6}" y="{pad_t + 12 + 12 * i}" fill="{colour}">'
            f"{html.escape(label)}</text>"
        )
    out.append(
        f'<line class="cursor" x1="{sx(t):.1f}" x2="{sx(t):.1f}" y1="{pad_t}" '
        f'y2="{height_px - pad_b}" stroke="#000" stroke-dasharray="3 2"/>'
    )
    out.append(f'<text x="{pad_l}" y="{height_px - 4}">{html.escape(metric)}</text></svg>')
    return "".join(out)

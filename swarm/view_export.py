"""A recorded mission as a video: `python -m swarm.view RUN_DIR --export mission.mp4` (or .gif).

Drawn with matplotlib (one axes per team, side by side) and written by matplotlib's
animation writers: FFMpegWriter for .mp4 when ffmpeg is installed, else PillowWriter, which
writes a GIF (an .mp4 request without ffmpeg becomes a .gif beside it, and says so).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from swarm.trajectory import CENTRE, Trajectory, load
from swarm.view_svg import KIND_COLOURS, TERRAIN_COLOURS, edge_width

__all__ = ["export"]


def export(
    paths: Sequence[Path], out: Path, fps: int = 10, every: int = 1
) -> tuple[Path, str | None]:
    """Render recordings `paths` side by side to `out`; returns (file written, note)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import animation

    trajs = [load(p) for p in paths]
    out, note = Path(out), None
    if out.suffix.lower() == ".mp4" and not animation.writers.is_available("ffmpeg"):
        out, note = out.with_suffix(".gif"), "ffmpeg not installed: wrote a GIF instead"
    if out.suffix.lower() not in (".mp4", ".gif"):
        raise ValueError(f"{out}: export writes .mp4 or .gif")
    fig, axes = plt.subplots(1, len(trajs), figsize=(4.2 * len(trajs), 4.4), squeeze=False)
    t_max = max(tr.ticks for tr in trajs)
    artists = [_Panel(ax, tr) for ax, tr in zip(axes[0], trajs, strict=True)]
    fig.tight_layout()
    frames = list(range(0, t_max + 1, max(1, every)))

    def draw(t: int) -> list:
        return [a for p in artists for a in p.draw(t)]

    anim = animation.FuncAnimation(fig, draw, frames=frames, blit=False)
    writer = (
        animation.FFMpegWriter(fps=fps) if out.suffix.lower() == ".mp4"
        else animation.PillowWriter(fps=fps)
    )  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    anim.save(out, writer=writer)
    plt.close(fig)
    return out, note


class _Panel:
    """One team's axes: terrain once, then drones, footprints, trails and edges per frame."""

    def __init__(self, ax, traj: Trajectory) -> None:
        from matplotlib.collections import LineCollection

        self.ax, self.tr = ax, traj
        h, w = traj.meta["shape"]
        terrain = TERRAIN_COLOURS[np.clip(traj["terrain"].astype(int), 0, 4)]
        ax.imshow(terrain, extent=(0, w, h, 0), interpolation="nearest")
        for name, colour in (("targets", "#2ca02c"), ("distractors", "#7f7f7f")):
            cells = traj.get(name)
            if cells is not None and len(cells):
                ax.scatter(cells[:, 1] + 0.5, cells[:, 0] + 0.5, marker="s", s=30,
                           facecolors="none", edgecolors=colour)  # fmt: skip
        ax.set_xlim(-1.5, w + 1.5)
        ax.set_ylim(h + 1.5, -1.5)
        ax.set_xticks([])
        ax.set_yticks([])
        self.edges = LineCollection([], linewidths=1.0, alpha=0.6)
        ax.add_collection(self.edges)
        self.trails = LineCollection([], colors="#222222", linewidths=0.8, alpha=0.5)
        ax.add_collection(self.trails)
        self.foot = LineCollection([], colors="#333333", linewidths=0.6, alpha=0.5)
        ax.add_collection(self.foot)
        self.dots = ax.scatter([], [], s=28, c="#111111", zorder=5)
        self.title = ax.set_title("")

    def draw(self, t: int) -> list:
        tr = self.tr
        t = min(t, tr.ticks)
        pos = tr["pos"][t].astype(float) + 0.5
        rad = tr["radius"][t].astype(float)
        w = tr.meta["shape"][1]
        self.dots.set_offsets(pos[:, ::-1])
        hub, _ = tr.hub_at(t)
        colours = ["#e377c2" if i == hub else "#111111" for i in range(len(pos))]
        self.dots.set_color(colours)
        boxes = []
        for (r, c), k in zip(pos, rad, strict=True):
            x0, x1, y0, y1 = c - k - 0.5, c + k + 0.5, r - k - 0.5, r + k + 0.5
            boxes.append([(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)])
        self.foot.set_segments(boxes)
        past = tr["pos"][max(0, t - 20) : t + 1].astype(float) + 0.5
        self.trails.set_segments([past[:, i, ::-1] for i in range(past.shape[1])])
        e = tr.edges_at(t)
        centre = (w + 0.75, -0.75)
        segs, cols, widths = [], [], []
        for s, d, k, b, st in zip(e["src"], e["dst"], e["kind"], e["bytes"], e["status"],
                                  strict=True):  # fmt: skip
            a = (pos[s, 1], pos[s, 0])
            z = centre if d == CENTRE else (pos[d, 1], pos[d, 0])
            segs.append([a, z])
            cols.append("#d62728" if st else KIND_COLOURS.get(int(k), "#17becf"))
            widths.append(8 * edge_width(float(b)))
        self.edges.set_segments(segs)
        self.edges.set_color(cols)
        self.edges.set_linewidths(widths or [1.0])
        self.title.set_text(f"{tr.meta['team']} · seed {tr.meta['seed']} · tick {t}")
        return [self.dots, self.foot, self.trails, self.edges, self.title]

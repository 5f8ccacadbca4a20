"""The Solara app of `python -m swarm.view RUN_DIR`: replay a run's recordings in a browser.

Two teams of one seed side by side, each its map (`swarm.view_svg.map_svg`: terrain,
drones with footprints and trails, the communication graph of the current round, the hub,
the events so far) and a chosen drone's belief map; the metric curves of both under them
with a cursor at the current tick; one timeline scrubber with play/pause and speed for both.
The run folder comes from the environment variable `SWARM_VIEW_RUN` (the CLI sets it); the
recordings are re-read when their files change, so a run still being written shows its
finished missions as they land.
"""

from __future__ import annotations

import html
import os
import time
from functools import lru_cache
from pathlib import Path

import solara
import solara.lab

from swarm.trajectory import Trajectory, find_recordings, load
from swarm.view_svg import (
    EVENT_STYLE,
    KIND_COLOURS,
    belief_png,
    curves_svg,
    map_svg,
    terrain_png,
)

__all__ = ["RUN_ENV", "Page", "Replay"]

RUN_ENV = "SWARM_VIEW_RUN"
LIVE_ENV = "SWARM_VIEW_LIVE"  # "1": the run is still going; poll its recordings
POLL_S = 1.0


@lru_cache(maxsize=16)
def _load(path: str, mtime: float) -> tuple[Trajectory, str]:
    """A recording and its terrain image, cached per file version (`mtime`)."""
    traj = load(Path(path))
    return traj, terrain_png(traj)


def _get(path: Path) -> tuple[Trajectory, str]:
    return _load(str(path), path.stat().st_mtime)


@solara.component
def TeamPanel(path: Path, tick: int, focus: int) -> None:
    """One team's map and the chosen drone's belief at `tick`."""
    traj, terrain = _get(path)
    t = min(tick, traj.ticks)
    n = int(traj.meta["drones"])
    drone = min(focus, n - 1)
    hub, term = traj.hub_at(t)
    with solara.Column(style={"min-width": "470px"}):
        team = html.escape(str(traj.meta["team"]))
        head = f"<b>{team}</b> · seed {traj.meta['seed']} · tick {t}/{traj.ticks}"
        if traj.meta.get("live"):
            head += " · flying"
        if hub >= 0:
            head += f" · hub drone {hub} (term {term})"
        solara.HTML(tag="div", unsafe_innerHTML=head)  # not Markdown: it fetches KaTeX
        solara.HTML(
            tag="div",
            unsafe_innerHTML=map_svg(traj, t, terrain, focus=drone),
            attributes={"data-panel": str(traj.meta["team"])},
        )
        snap, maps = traj.belief_at(t)
        if maps is not None:
            solara.Text(f"belief of drone {drone} (snapshot at tick {snap})")
            solara.HTML(
                tag="img",
                attributes={
                    "src": belief_png(maps[drone].astype("float32")),
                    "width": "230",
                    "class": "belief",
                    "style": "image-rendering: pixelated",
                },
            )


def _legend() -> str:
    kinds = " ".join(f'<span style="color:{c}">━ {k.name}</span>' for k, c in KIND_COLOURS.items())
    events = " ".join(
        f'<span style="color:{c}">{g} {lab}</span>' for g, c, lab in EVENT_STYLE.values()
    )
    return (
        f"<div style='font-size:12px'>messages: {kinds} · "
        "<span style='color:#d62728'>┅ rejected</span> · width: bytes<br>"
        f"events: {events} · drones: ● flying, "
        "<span style='color:#ffbf00'>●</span> busy, <span style='color:#e377c2'>●</span> hub; "
        "□ footprint; green/grey squares: targets / look-alikes (truth)</div>"
    )


@solara.component
def Page() -> None:
    """The app: the run folder's recordings, or what to do when it has none."""
    run_dir = Path(os.environ.get(RUN_ENV, "."))
    live = os.environ.get(LIVE_ENV) == "1"
    version = solara.use_reactive(0)  # bumped when a recording appears or is rewritten

    def poll() -> None:
        seen = None
        while live:
            now = [(p, p.stat().st_mtime) for p in find_recordings(run_dir).values()]
            if now != seen:
                seen = now
                version.value += 1
            time.sleep(POLL_S)

    solara.lab.use_task(poll, dependencies=[], prefer_threaded=True)
    recs = find_recordings(run_dir)
    if recs:
        Replay(recs, live, version.value)
    else:
        solara.Error(
            f"{run_dir}: no recordings under trajectories/. Run a scenario with "
            "output.record: true (`--set output.record=true`), then view its folder."
        )


@solara.component
def Replay(recs: dict[tuple[str, int], Path], live: bool = False, version: int = 0) -> None:
    """Two teams of one seed side by side, one timeline (see the module docstring); `live`:
    the run is still going (`version` changes when its recordings do)."""
    teams = sorted({t for t, _ in recs})
    seeds = sorted({s for _, s in recs})
    seed = solara.use_reactive(seeds[0])
    left = "swarm" if "swarm" in teams else teams[0]  # the team a run is about, first
    team_a = solara.use_reactive(left)
    team_b = solara.use_reactive(next((t for t in teams if t != left), left))
    tick = solara.use_reactive(0)
    playing = solara.use_reactive(False)
    speed = solara.use_reactive(8)  # ticks per second
    focus = solara.use_reactive(0)
    shown = [
        p for p in (recs.get((team_a.value, seed.value)), recs.get((team_b.value, seed.value))) if p
    ]
    trajs = {f"{_get(p)[0].meta['team']}": _get(p)[0] for p in shown}
    t_max = max([tr.ticks for tr in trajs.values()] + [0])
    metrics = sorted({m for tr in trajs.values() for m in tr.metrics if m != "tick"})
    metrics.append("field_auc_curve")
    metric = solara.use_reactive(metrics[0])
    follow = solara.use_reactive(live)  # live: keep the scrubber on the newest tick

    def to_newest() -> None:
        if follow.value:
            tick.set(t_max)

    solara.use_effect(to_newest, [t_max, version, follow.value])

    def play() -> None:
        while playing.value:
            time.sleep(1.0 / max(speed.value, 1))
            if tick.value >= t_max:
                playing.value = False
                break
            tick.value = tick.value + 1

    solara.lab.use_task(play, dependencies=[playing.value], prefer_threaded=True)

    solara.Title("swarm replay")
    with solara.Row(style={"align-items": "center", "flex-wrap": "wrap"}):
        solara.Select("seed", values=seeds, value=seed)
        solara.Select("left team", values=teams, value=team_a)
        solara.Select("right team", values=teams, value=team_b)
        solara.Button(
            "❚❚ pause" if playing.value else "▶ play",
            on_click=lambda: playing.set(not playing.value),
            color="primary",
            classes=["play-button"],
        )
        solara.Button("◀", on_click=lambda: tick.set(max(0, tick.value - 1)), classes=["step-back"])
        solara.Button("▶|", on_click=lambda: tick.set(min(t_max, tick.value + 1)), classes=["step"])
        solara.SliderInt("speed (ticks/s)", value=speed, min=1, max=30)
        solara.InputInt("belief of drone", value=focus)
        if live:
            solara.Checkbox(label="follow the run", value=follow)
    solara.SliderInt(f"tick (0-{t_max})", value=tick, min=0, max=t_max, step=1)
    with solara.Row(style={"flex-wrap": "wrap"}):
        for p in shown:
            TeamPanel(p, tick.value, max(0, focus.value))
    with solara.Row(style={"align-items": "center"}):
        solara.Select("metric", values=metrics, value=metric)
        solara.HTML(tag="div", unsafe_innerHTML=curves_svg(trajs, metric.value, tick.value))
    solara.HTML(tag="div", unsafe_innerHTML=_legend())

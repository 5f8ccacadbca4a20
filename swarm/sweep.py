"""`python -m swarm.sweep FILE.yaml`: run a study, a grid of points x teams x seeds, on Ray.

```
python -m swarm.sweep scenarios/studies/topology.yaml [--out DIR] [--grid PATH=A,B,C]...
                      [--set PATH=VALUE]... [--seeds N] [--ticks T] [--teams a,b]
                      [--address auto|HOST:PORT] [--local] [--quiet]
```

The file is a scenario file plus a `sweep:` section (`swarm.sweep_config`); `--grid` adds or
replaces grid axes, `--set` and the other flags change every point. Every point is validated
before anything runs (an invalid one: exit 1, Ray never started). Output::

    DIR/sweep.json                 the plan (points, their overrides and folders) and status
    DIR/points/<point>/            a normal run folder per point (results.json, ticks.csv, tb/)
    DIR/table.csv, table.parquet   one row per point x team x seed: axes, metrics, costs
    DIR/plots/<metric>_vs_<axis>.png

Points run in parallel as Ray tasks on the run's cluster (embedded, `--address`, or
`ray.address`): a point's task drives its own host pool, sized as it would be alone; points
are started while the hosts they need fit in the cluster's CPUs, so concurrent points never
wait on each other's hosts. Each point flies exactly as `python -m swarm.run` would with
the same overrides (same config, same seeds, same host count), so its rows equal a run of
that point alone. Plain Ray tasks rather than Ray Tune trials: Tune measured unfit, a trial
running one point hung because the point's host actors (`SPREAD` scheduling) wait outside
the trial's placement group for CPUs the group holds, and Tune would keep a second resume
record beside results.json (docs/scenarios.md, "Studies and sweeps"). Missing checkpoints
are pretrained once, in this process, before the points start (parallel points would
otherwise train the same model at once).

Resume: run the same command with `--out DIR` of an interrupted or crashed sweep. Points whose
results.json says `complete` are kept; a point left unfinished resumes where it stopped, its
completed team x seed runs kept (as `swarm.run --resume`); one without readable results is
moved aside to `<point>.partial-N` (nothing is deleted) and run again. Exit codes as
`swarm.run`: 0 every point complete, 1 invalid input, 2 a point failed, 130/143/129
interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from swarm.overrides import Override, as_mapping, name_flags, parse_grid
from swarm.run import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    Launch,
    _Parser,
    add_launch_flags,
    add_override_flags,
    cli_main,
    execute,
    overrides_from,
)

__all__ = ["Study", "SweepFolderError", "is_study", "load_study", "main", "run_study"]

SWEEP_FILE = "sweep.json"
POINTS_DIR = "points"


@dataclass
class Study:
    """A validated study: its `name`, swept `axes`, and per point its name, folder name,
    overrides and validated RunConfig."""

    file: Path
    name: str
    axes: list[str]
    points: list[tuple[str, str, dict[str, Any], Any]]

    def plan(self) -> list[dict[str, Any]]:
        """The points as written to sweep.json (what a resume must match)."""
        return [{"name": n, "folder": f, "overrides": o} for n, f, o, _ in self.points]


def is_study(path: str | Path) -> bool:
    """Does the YAML file at `path` hold a `sweep:` section (False if it cannot be read)?"""
    from swarm.yaml_lines import YamlLoadError, load_yaml

    try:
        data = load_yaml(path).data
    except YamlLoadError:
        return False
    return isinstance(data, dict) and "sweep" in data


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    ap = _Parser(prog="python -m swarm.sweep", description=__doc__.split("\n")[0])
    ap.add_argument("file", type=Path, help="study YAML file with a `sweep:` section")
    ap.add_argument("--out", type=Path, help="sweep folder (default: runs/<name>-sweep-<time>/)")
    ap.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="PATH=A,B,C",
        help="sweep a field over values, e.g. --grid drones=4,8,16 (repeatable)",
    )
    add_override_flags(ap)
    add_launch_flags(ap, local_help="run points one by one here, no Ray")
    return ap.parse_args(argv)


def load_study(
    file: Path, overrides: list[Override], grid: dict[str, list[Any]] | None = None
) -> Study:
    """Read and validate a study: its `sweep:` section, then every point as a run config.

    Raises `ConfigError` with `FILE:LINE: field: message` lines (a point's problem names the
    point and the field it sets, e.g. `sweep point drones=0: drones: ...`)."""
    from pydantic import ValidationError

    from swarm.config import ConfigError, config_of
    from swarm.sweep_config import SweepSpec
    from swarm.yaml_lines import YamlLoadError, load_yaml

    try:
        doc = load_yaml(file)
    except YamlLoadError as err:
        raise ConfigError(err.errors) from None
    section = doc.data.get("sweep", {}) if isinstance(doc.data, dict) else {}
    try:
        spec = SweepSpec.model_validate(section or {})
        if grid:
            spec = spec.model_copy(update={"grid": {**spec.grid, **grid}})
        points = spec.expand()
    except ValidationError as err:
        lines = []
        for e in err.errors(include_url=False):
            loc = ("sweep", *e["loc"])
            where = ".".join(str(p) for p in loc)
            msg = e["msg"].removeprefix("Value error, ")
            lines.append(f"{file}:{doc.line_of(loc)}: {where}: {msg}")
        raise ConfigError(lines) from None
    except ValueError as err:
        raise ConfigError([f"{file}:{doc.line_of(('sweep',))}: sweep: {err}"]) from None
    out: list[tuple[str, str, dict[str, Any], Any]] = []
    errors: list[str] = []
    folders: set[str] = set()
    for point in points:
        own = [Override(k, v, f"sweep point {point.name}: {k}={v}") for k, v in
               point.overrides.items()]  # fmt: skip
        every = [*overrides, *own]
        try:
            cfg = config_of(doc, as_mapping(every), skip=("sweep",))
        except ConfigError as err:
            errors += name_flags(err.errors, str(file), every)
            continue
        folder = point.folder
        if folder in folders:
            folder = f"{folder}-{len(folders)}"
        folders.add(folder)
        out.append((point.name, folder, point.overrides, cfg))
    if errors:
        raise ConfigError(list(dict.fromkeys(errors)))
    name = out[0][3].name if out else file.stem
    return Study(file=file, name=name, axes=spec.axes(), points=out)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (see the module docstring)."""

    def load(args: argparse.Namespace) -> Study:
        grid = dict(parse_grid(text) for text in args.grid)
        return load_study(args.file, overrides_from(args), grid)

    return cli_main(
        lambda: parse_args(argv),
        load,
        lambda study, args, launch: run_study(study, launch, args.out),
    )


class SweepFolderError(Exception):
    """The sweep folder cannot be used (another sweep's, or not a sweep's)."""


def _sweep_dir(study: Study, out: Path | None) -> Path:
    """The sweep folder: `out` (new, or a resumable sweep of the same plan) or a fresh one."""
    from swarm.outputs import new_run_dir

    if out is None:
        parent = Path(study.points[0][3].output.dir)
        return new_run_dir(parent, f"{study.name}-sweep")
    manifest = out / SWEEP_FILE
    if manifest.exists():
        old = json.loads(manifest.read_text())
        if old.get("points") != json.loads(json.dumps(study.plan())):
            raise SweepFolderError(
                f"{out} holds a different sweep (other points or overrides); resume it with "
                "the same file and flags, or choose a new --out DIR"
            )
        return out
    if out.exists() and any(out.iterdir()):
        raise SweepFolderError(f"{out} is not empty and holds no sweep; choose a new --out DIR")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _results(folder: Path) -> dict[str, Any]:
    """A point folder's results.json ({}: none, or not readable)."""
    try:
        return json.loads((folder / "results.json").read_text())
    except (OSError, ValueError):
        return {}


def _resumable(folder: Path) -> bool:
    """Whether a point folder holds a run `swarm.run --resume` can continue (its results
    name the config they were made with)."""
    return "config" in _results(folder)


def _status(folder: Path) -> str | None:
    """The `status` in a point folder's results.json (None: no readable results)."""
    return _results(folder).get("status")


def _write_manifest(root: Path, study: Study, status: str, done: list[str]) -> None:
    from swarm.outputs import atomic_write_json

    atomic_write_json(
        root / SWEEP_FILE,
        {
            "name": study.name,
            "file": str(study.file),
            "axes": study.axes,
            "status": status,
            "points": study.plan(),
            "complete": done,
        },
    )


def run_study(study: Study, launch: Launch, out: Path | None = None) -> int:
    """Run every unfinished point of `study` into its sweep folder; the exit code."""
    console = Console() if Console().is_terminal else Console(width=140)
    try:
        root = _sweep_dir(study, out)
    except SweepFolderError as err:
        print(str(err), file=sys.stderr)
        return EXIT_INVALID
    points_dir = root / POINTS_DIR
    points_dir.mkdir(exist_ok=True)
    pending = []
    done: list[str] = []
    for name, folder, _overrides, cfg in study.points:
        where = points_dir / folder
        if _status(where) == "complete":
            done.append(name)
            continue
        if where.exists() and not _resumable(where):  # nothing to resume: keep it aside
            from swarm.outputs import set_aside

            set_aside(where)
        pending.append((name, where, cfg))
    _write_manifest(root, study, "running", done)
    print(
        f"sweep {study.name}: {len(study.points)} points ({len(done)} complete, "
        f"{len(pending)} to run) -> {root}",
        file=sys.stderr,
    )
    from swarm.progress import RunProgress

    code = 0
    with RunProgress(console, enabled=not launch.quiet) as progress:
        progress.plan(sum(len(c.teams) * len(c.seeds) for *_, c in study.points))
        progress.skip(sum(_runs(points_dir / f) for n, f, _o, _c in study.points if n in done))
        try:
            _pretrain_all([c for _, _, c in pending], progress)
            if launch.local:
                code = _run_local(pending, launch, progress, done, console)
            else:
                code = _run_ray(pending, launch, progress, done)
        except KeyboardInterrupt:
            code = EXIT_INTERRUPTED
    status = "complete" if len(done) == len(study.points) else (
        "interrupted" if code == EXIT_INTERRUPTED else "failed"
    )  # fmt: skip
    _write_manifest(root, study, status, done)
    _summarise(study, root)
    if status != "complete":
        print(
            f"sweep {status}: {len(done)} of {len(study.points)} points complete; resume with "
            f"python -m swarm.sweep {study.file} --out {root} (and the same flags)",
            file=sys.stderr,
        )
        return code or EXIT_FAILED
    console.print(f"sweep results: {root}")
    return 0


def _runs(folder: Path) -> int:
    """Completed team x seed runs in a point folder's results.json (0: none readable)."""
    from swarm.outputs import run_count

    return run_count(_results(folder))


def _pretrain_all(cfgs: list[Any], progress: Any) -> None:
    """Pretrain every model shape the pending points need, once, before they start."""
    from swarm.warmup import needed_sizes, warm_cache

    seen: set[str] = set()
    for cfg in cfgs:
        for size in needed_sizes(cfg):
            key = json.dumps(
                [cfg.model.small.model_dump(), cfg.large_model().model_dump(), size],
                sort_keys=True,
            )
            if key in seen:
                continue
            seen.add(key)
            from agents.pretrain import cache_dir

            progress.pretraining(size, str(cache_dir()))
            got = warm_cache(cfg, size)
            progress.pretrained("cached" if got.cached else f"trained in {got.seconds:.1f} s")


def _run_local(
    pending: list[tuple[str, Path, Any]],
    launch: Launch,
    progress: Any,
    done: list[str],
    console: Console,
) -> int:
    code = 0
    for name, where, cfg in pending:
        resume = _resumable(where)  # an unfinished point goes on where it stopped
        rc = execute(cfg, launch, where, console=console, progress=progress, resume=resume)
        if rc == 0:
            done.append(name)
        elif rc == EXIT_INTERRUPTED or rc > 128:
            return rc
        else:
            code = EXIT_FAILED
    return code


def _point_task(config: dict[str, Any], where: str) -> int:
    """One point inside a Ray worker: the same `execute` as `swarm.run`, without bars."""
    import torch

    from swarm.config import RunConfig

    torch.set_num_threads(1)  # several points and their hosts share the node's cores
    cfg = RunConfig.model_validate(config)
    quiet = Console(file=open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the task
    resume = _resumable(Path(where))  # an unfinished point goes on where it stopped
    return execute(
        cfg, Launch(quiet=True), Path(where), console=quiet, trap_signals=False, resume=resume
    )


def _hosts(cfg: Any, cpus: float) -> int:
    from swarm.raylife import host_count

    return host_count(cfg.hosts.agents_per_host, cfg.drones, cpus)


def _run_ray(
    pending: list[tuple[str, Path, Any]], launch: Launch, progress: Any, done: list[str]
) -> int:
    """Run points as Ray tasks while their hosts fit in the cluster's CPUs."""
    import ray

    from swarm.raylife import start_ray, stop_ray

    owns = not ray.is_initialized()
    address = launch.address or (pending[0][2].ray.address if pending else None)
    if pending:
        start_ray(address, num_cpus=pending[0][2].ray.num_cpus)
    env = {k: os.environ[k] for k in ("SWARM_CACHE",) if k in os.environ}
    task = ray.remote(num_cpus=0, max_retries=0)(_point_task).options(
        runtime_env={"env_vars": env} if env else None
    )
    try:
        cpus = float(ray.cluster_resources().get("CPU", 1.0)) if pending else 1.0
        queue = list(pending)
        running: dict[Any, tuple[str, Path, Any, int]] = {}
        code = 0
        while queue or running:
            busy = sum(h for *_, h in running.values())
            while queue and (not running or busy + _hosts(queue[0][2], cpus) <= cpus):
                name, where, cfg = queue.pop(0)
                hosts = _hosts(cfg, cpus)
                ref = task.remote(cfg.model_dump(mode="json"), str(where))
                running[ref] = (name, where, cfg, hosts)
                busy += hosts
            ready, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
            for ref in ready:
                name, where, cfg, _ = running.pop(ref)
                try:
                    rc = ray.get(ref)
                except Exception as err:  # the worker died: the point is failed, others go on
                    print(f"sweep point {name} failed: {err}", file=sys.stderr)
                    rc = EXIT_FAILED
                if rc == 0:
                    done.append(name)
                else:
                    code = EXIT_FAILED
                progress.skip(_runs(where), info=f"{len(done)} points done")
        return code
    except KeyboardInterrupt:
        for ref in running:
            ray.cancel(ref, force=True)
        time.sleep(0.5)
        raise
    finally:
        if owns:
            stop_ray()


def _summarise(study: Study, root: Path) -> None:
    """table.csv / table.parquet and plots of the points that completed (best effort)."""
    from swarm.sweep_table import field_description, plot_axes, point_rows, write_table

    rows: list[dict[str, Any]] = []
    metrics: list[str] = []
    for name, folder, overrides, _ in study.points:
        results = _results(root / POINTS_DIR / folder)
        if results.get("status") != "complete":  # a resume re-runs it; half a point misleads
            continue
        axes = {a: overrides.get(a) for a in study.axes}
        rows += point_rows(name, axes, results)
        for team in results.get("teams", {}).values():
            for run in team.get("runs", []):
                metrics += [m for m in run.get("metrics", {}) if m not in metrics]
    if not rows:
        return
    write_table(rows, root)
    if study.points[0][3].output.plots and study.axes:
        plots = root / "plots"
        plots.mkdir(exist_ok=True)
        try:
            about = {a: field_description(study.points[0][3], a) for a in study.axes}
            plot_axes(rows, study.axes, [*metrics, "wire_bytes", "wall_seconds"], plots, about)
        except Exception as err:  # plots never mask the table
            print(f"sweep plots failed: {type(err).__name__}: {err}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

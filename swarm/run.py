"""`python -m swarm.run FILE.yaml`: run every team x seed of a scenario and score them.

```
python -m swarm.run scenarios/drone_search.yaml [--out DIR] [--seeds N] [--ticks T]
                    [--teams swarm,isolated] [--address auto|HOST:PORT] [--local] [--quiet]
```

Order of events: validate the file (an invalid one stops here: the validator's
`FILE:LINE: field: message` lines, exit 1, Ray never started) -> create the output folder ->
start an embedded Ray on 127.0.0.1 or join `--address` / `ray.address` -> start the host
pool -> for each team, for each seed: one mission (swarm.loop) on the same world seeds,
results.json rewritten after each -> plots, scorecard table, Ray shut down.

Exit codes: 0 all runs completed; 1 invalid configuration; 2 a run failed (e.g. a host
died); 130 interrupted (Ctrl-C). In every case the completed runs stay in results.json.
`--local` runs the same hosts in this process (no Ray): for tests and debugging.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console

from swarm.loop import Episode, PoolLike, run_episode
from swarm.outputs import RunOutputs, run_dir_name
from swarm.progress import RunProgress, headline
from swarm.scorecard import table

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_INVALID", "main", "parse_args"]

EXIT_INVALID = 1
EXIT_FAILED = 2
EXIT_INTERRUPTED = 130


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    ap = argparse.ArgumentParser(prog="python -m swarm.run", description=__doc__.split("\n")[0])
    ap.add_argument("file", type=Path, help="scenario YAML file, e.g. scenarios/drone_search.yaml")
    ap.add_argument("--out", type=Path, help="output folder (default: runs/<name>-<time>/)")
    ap.add_argument("--seeds", type=int, help="run seeds 0..N-1 instead of the file's seeds")
    ap.add_argument("--ticks", type=int, help="horizon in ticks instead of the file's")
    ap.add_argument("--teams", help="comma-separated subset of teams, e.g. swarm,isolated")
    ap.add_argument("--address", help="join this Ray cluster ('auto' or HOST:PORT)")
    ap.add_argument("--local", action="store_true", help="run hosts in this process, no Ray")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    return ap.parse_args(argv)


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    """The CLI's overrides of the YAML file, as RunConfig fields."""
    out: dict[str, Any] = {}
    if args.seeds is not None:
        out["seeds"] = args.seeds
    if args.ticks is not None:
        out["ticks"] = args.ticks
    if args.teams:
        out["teams"] = [t.strip() for t in args.teams.split(",") if t.strip()]
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (see the module docstring)."""
    from swarm.config import ConfigError, load_config

    args = parse_args(argv)
    console = Console()
    if not console.is_terminal:  # a log file or pipe: room for the scorecard's four teams
        console = Console(width=140)
    try:
        cfg = load_config(args.file, overrides_from(args))
    except ConfigError as err:
        for line in err.errors:
            print(line, file=sys.stderr)
        return EXIT_INVALID
    out_dir = args.out or Path(cfg.output.dir) / run_dir_name(cfg.name)
    try:
        outputs = RunOutputs(
            out_dir,
            name=cfg.name,
            scenario=cfg.scenario,
            seeds=list(cfg.seeds),
            teams=list(cfg.teams),
            config=cfg.model_dump(mode="json"),
            csv_every=cfg.output.csv_every,
        )
    except OSError as err:
        print(
            f"{out_dir}: cannot write the run's outputs ({err}); choose --out DIR", file=sys.stderr
        )
        return EXIT_FAILED
    log = outputs.logger()
    log.info("run %s: %s, teams %s, seeds %s", cfg.name, cfg.scenario, cfg.teams, cfg.seeds)
    status, error, code = "complete", None, 0
    try:
        _run_all(cfg, args, outputs, console, log)
    except KeyboardInterrupt:
        status, error, code = "interrupted", "interrupted by the user (Ctrl-C)", EXIT_INTERRUPTED
        log.warning("interrupted")
    except Exception as err:
        status, error, code = "failed", f"{type(err).__name__}: {err}", EXIT_FAILED
        log.exception("run failed")
    finally:
        outputs.finish(status, error)
    _epilogue(cfg, outputs, console, log)
    if code:
        done = sum(len(t["runs"]) for t in outputs.doc["teams"].values())
        print(
            f"run {status}: {error}\n{done} completed team x seed run(s) kept in "
            f"{outputs.results_path}; details in {outputs.log_path}",
            file=sys.stderr,
        )
    return code


def _run_all(
    cfg: Any, args: argparse.Namespace, outputs: RunOutputs, console: Console, log: logging.Logger
) -> None:
    """Start the runtime, fly every team x seed, stop the runtime (also on errors)."""
    import ray

    from swarm.pool import HostPool
    from swarm.raylife import start_ray, stop_ray

    backend = "local" if args.local else "ray"
    # a Ray already running in this process (a test session, a notebook) belongs to its owner
    owns_ray = backend == "ray" and not ray.is_initialized()
    pool = None
    try:
        if backend == "ray":
            address = args.address or cfg.ray.address
            info = start_ray(address, num_cpus=cfg.ray.num_cpus)
            log.info("ray: %s", info)
        else:
            import torch

            torch.set_num_threads(1)  # the hosts compute in this process, beside others
        pool = HostPool(cfg, backend=backend)
        outputs.set_ray({"backend": backend, **pool.ray_info()})
        with RunProgress(console, enabled=not args.quiet) as progress:
            for team in cfg.teams:
                for seed in cfg.seeds:
                    ep = _one(cfg, team, seed, pool, outputs, progress)
                    outputs.record(team, ep.record())
                    log.info("%s seed %d: %d ticks, %s", team, seed, ep.ticks, ep.metrics)
    finally:
        if pool is not None:
            try:
                pool.close()
            except Exception:  # closing must not hide the error that got us here
                log.exception("closing the host pool failed")
        if owns_ray:
            stop_ray()


def _one(
    cfg: Any, team: str, seed: int, pool: PoolLike, outputs: RunOutputs, progress: RunProgress
) -> Episode:
    """One mission with its CSV rows and progress bar."""

    def on_start(horizon: int | None) -> None:
        progress.start(team, seed, horizon)

    def on_tick(tick: int, row: Mapping[str, float], last: bool) -> None:
        outputs.tick(team, seed, tick, row, last)
        progress.update(tick, row)

    ep = run_episode(cfg, team, seed, pool, on_start=on_start, on_tick=on_tick)
    progress.done(headline(ep.metrics))
    return ep


def _epilogue(cfg: Any, outputs: RunOutputs, console: Console, log: logging.Logger) -> None:
    """Plots and the scorecard for whatever completed (best effort: never masks the result)."""
    if cfg.output.plots:
        try:
            from swarm.plots import make_plots

            paths = make_plots(outputs.dir, outputs.doc)
            log.info("plots: %s", [p.name for p in paths])
        except Exception:
            log.exception("plotting failed")
    if outputs.doc["teams"]:
        console.print(table(outputs.doc))
    console.print(f"results: {outputs.dir}")


if __name__ == "__main__":
    sys.exit(main())

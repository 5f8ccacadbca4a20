"""`python -m swarm.run FILE.yaml`: run every team x seed of a scenario and score them.

```
python -m swarm.run scenarios/drone_search.yaml [--out DIR | --resume DIR] [--seeds N]
                    [--ticks T] [--teams swarm,isolated] [--address auto|HOST:PORT] [--local]
                    [--quiet]
```

Order of events: validate the file (an invalid one stops here: the validator's
`FILE:LINE: field: message` lines, exit 1, Ray never started) -> create the output folder (a
fresh `runs/<name>-<time>/`, suffixed `-2`, `-3`... if taken; `--out DIR` is refused, exit 1,
when DIR already holds a run) ->
start an embedded Ray on 127.0.0.1 or join `--address` / `ray.address` -> start the host
pool -> for each seed, for each team: one mission (swarm.loop) on the same world seeds,
results.json rewritten after each -> plots, scorecard table, Ray shut down.

Exit codes: 0 every planned run completed; 1 invalid input (the file, a flag, or an `--out`
folder that already holds a run); 2 a run failed (e.g. a host died, the disk is full); 130
interrupted by Ctrl-C (SIGINT), 143 by SIGTERM (`timeout`, `docker stop`, a scheduler), 129 by
SIGHUP (the terminal closed): 128 + the signal number, as a shell reports it. SIGTERM and
SIGHUP stop a run exactly like Ctrl-C: results.json says `interrupted`, the completed runs stay
in it, plots are written and the workers stopped. `status: complete` is written only when every
planned team x seed completed. `--local` runs the same hosts in this process (no Ray): for
tests and debugging.

Resume: `--resume DIR` with the same file and flags continues the interrupted or failed run in
DIR: its completed team x seed runs are kept and not flown again, the rest run and are added
to the same results.json (`swarm.outputs.RunOutputs`, `resume`). A folder whose recorded
config differs from this command's is refused (exit 1, naming the differing fields).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import logging
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from agents.pretrain import cache_dir
from swarm.costs import FlopRates, flop_rates
from swarm.loop import Episode, PoolLike, make_world, run_episode
from swarm.outputs import OutputWriteError, RunFolderInUse, RunOutputs, new_run_dir, run_count
from swarm.overrides import Override, OverrideError, as_mapping, name_flags, parse_set
from swarm.progress import RunProgress, headline
from swarm.scorecard import CheckpointRows, table
from swarm.teams import team_drones
from swarm.tracking import Tracker
from swarm.trajectory import Recorder, record_enabled, trajectory_path
from swarm.warmup import needed_models, warm_cache

if TYPE_CHECKING:
    from swarm.config import RunConfig

__all__ = [
    "EXIT_FAILED",
    "EXIT_HANGUP",
    "EXIT_INTERRUPTED",
    "EXIT_INVALID",
    "EXIT_TERMINATED",
    "Stopped",
    "main",
    "parse_args",
]

EXIT_INVALID = 1
EXIT_FAILED = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM
EXIT_HANGUP = 129  # 128 + SIGHUP
_STOP_SIGNALS = {signal.SIGTERM: EXIT_TERMINATED, signal.SIGHUP: EXIT_HANGUP}


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: a KeyboardInterrupt, so every layer stops as for Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _stop(signum: int, frame: Any) -> None:
    _ignore_stop_signals()  # one starts the orderly stop; a repeat must not break its cleanup
    raise Stopped(signum)


def _ignore_stop_signals() -> None:
    if threading.current_thread() is threading.main_thread():
        for sig in _STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


def _trap_stop_signals() -> dict[int, Any]:
    """Route SIGTERM and SIGHUP to `Stopped`; returns the handlers they had (main thread only).

    Called again once Ray is up: `ray.init` installs its own SIGTERM handler (`sys.exit`),
    which would skip the orderly stop."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, _stop) for sig in _STOP_SIGNALS}


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors (`--seeds abc`) exit with EXIT_INVALID, not argparse's 2
    (which is this CLI's "run failed")."""

    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        self.exit(EXIT_INVALID, f"{self.prog}: error: {message}\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    ap = _Parser(prog="python -m swarm.run", description=__doc__.split("\n")[0])
    ap.add_argument("file", type=Path, help="scenario YAML file, e.g. scenarios/drone_search.yaml")
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--out", type=Path, help="output folder (default: runs/<name>-<time>/)")
    where.add_argument(
        "--resume",
        type=Path,
        metavar="DIR",
        help="continue the interrupted run in DIR (same file and flags): skip its completed runs",
    )
    ap.add_argument(
        "--view", action="store_true", help="watch the run live in the browser (swarm.view)"
    )
    add_override_flags(ap)
    add_launch_flags(ap, local_help="run hosts in this process, no Ray")
    return ap.parse_args(argv)


def add_launch_flags(ap: argparse.ArgumentParser, local_help: str) -> None:
    """`--address`, `--local` and `--quiet`, read into a `Launch` by `cli_main` (shared with
    swarm.sweep)."""
    ap.add_argument("--address", help="join this Ray cluster ('auto' or HOST:PORT)")
    ap.add_argument("--local", action="store_true", help=local_help)
    ap.add_argument("--quiet", action="store_true", help="no progress bars")


def add_override_flags(ap: argparse.ArgumentParser) -> None:
    """`--seeds`, `--ticks`, `--teams` and `--set PATH=VALUE` (shared with swarm.sweep)."""
    ap.add_argument("--seeds", type=int, help="run seeds 0..N-1 instead of the file's seeds")
    ap.add_argument("--ticks", type=int, help="horizon in ticks instead of the file's")
    ap.add_argument("--teams", help="comma-separated subset of teams, e.g. swarm,isolated")
    ap.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="set any config field, e.g. --set protocol.topology.kind=star (repeatable)",
    )


def overrides_from(args: argparse.Namespace) -> list[Override]:
    """The CLI's overrides of the YAML file, in order (a later one of a path wins).

    Raises `OverrideError` (naming the flag) for a malformed `--set`."""
    out: list[Override] = []
    if args.seeds is not None:
        out.append(Override("seeds", args.seeds, f"--seeds {args.seeds}"))
    if args.ticks is not None:
        out.append(Override("ticks", args.ticks, f"--ticks {args.ticks}"))
    if args.teams:
        teams = [t.strip() for t in args.teams.split(",") if t.strip()]
        out.append(Override("teams", teams, f"--teams {args.teams}"))
    out += [parse_set(text) for text in args.sets]
    return out


@dataclass(frozen=True)
class Launch:
    """Where a run computes: `local` (hosts in this process, no Ray), else Ray at `address`
    (None: the config's `ray.address`, else an embedded Ray); `quiet`: no progress bars."""

    local: bool = False
    address: str | None = None
    quiet: bool = False


def load_run_config(file: Path, overrides: list[Override]) -> Any:
    """The validated RunConfig of `file` with `overrides`; `ConfigError` lines name the flag
    that caused each problem, and a study file (a `sweep:` section) says to use swarm.sweep."""
    from swarm.config import ConfigError, load_config

    try:
        return load_config(file, as_mapping(overrides))
    except ConfigError as err:
        lines = name_flags(err.errors, str(file), overrides)
        if any(": sweep: unknown field" in line for line in lines):
            lines.append(
                f"{file} is a study (a `sweep:` section): run python -m swarm.sweep {file}"
            )
        raise ConfigError(lines) from None


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (see the module docstring)."""
    return cli_main(
        lambda: parse_args(argv),
        lambda args: load_run_config(args.file, overrides_from(args)),
        lambda cfg, args, launch: execute(
            cfg, launch, args.resume or args.out, resume=args.resume is not None, view=args.view
        ),
    )


def cli_main(
    parse: Callable[[], argparse.Namespace],
    load: Callable[[argparse.Namespace], Any],
    go: Callable[[Any, argparse.Namespace, Launch], int],
) -> int:
    """The CLIs' shared frame (swarm.run, swarm.sweep): parse, load and validate (invalid
    input: its lines on stderr, exit 1, nothing started), then `go`; returns the exit code."""
    from swarm.config import ConfigError

    try:
        args = parse()
    except SystemExit as done:  # --help (0) or a usage error (EXIT_INVALID)
        return int(done.code or 0)
    try:
        loaded = load(args)
    except OverrideError as err:
        print(str(err), file=sys.stderr)
        return EXIT_INVALID
    except ConfigError as err:
        print("\n".join(err.errors), file=sys.stderr)
        return EXIT_INVALID
    return go(loaded, args, Launch(local=args.local, address=args.address, quiet=args.quiet))


def execute(
    cfg: Any,
    launch: Launch,
    out_dir: Path | None = None,
    *,
    console: Console | None = None,
    trap_signals: bool = True,
    progress: Any = None,
    resume: bool = False,
    view: bool = False,
) -> int:
    """Fly every team x seed of a validated `cfg` into `out_dir` (default: a fresh folder
    under `output.dir`); returns the exit code. `trap_signals`: route SIGTERM/SIGHUP to an
    orderly stop (the CLI; not inside a Ray worker). `progress`: an outer `RunProgress` to
    report into (a sweep's), else one is made here. `resume`: continue the run in `out_dir`
    (same config), flying only the team x seed runs it lacks. `view`: record every mission
    live and serve the viewer on the run folder while it runs (`swarm.view.LiveViewer`)."""
    if view:
        out = cfg.output.model_copy(update={"record": True, "live": True})
        cfg = cfg.model_copy(update={"output": out})
    if cfg.output.mlflow and importlib.util.find_spec("mlflow") is None:
        print(
            f"output.mlflow is set ({cfg.output.mlflow}) but mlflow is not installed: "
            "pip install mlflow, or remove output.mlflow",
            file=sys.stderr,
        )
        return EXIT_INVALID
    if console is None:
        console = Console()
        if not console.is_terminal:  # a log file or pipe: room for the scorecard's four teams
            console = Console(width=140)
    try:
        out_dir = out_dir or new_run_dir(Path(cfg.output.dir), cfg.name)
        outputs = RunOutputs(
            out_dir,
            name=cfg.name,
            scenario=cfg.scenario,
            seeds=list(cfg.seeds),
            teams=list(cfg.teams),
            config=cfg.model_dump(mode="json"),
            csv_every=cfg.output.csv_every,
            reference=cfg.reference,
            resume=resume,
        )
    except RunFolderInUse as err:
        print(str(err), file=sys.stderr)
        return EXIT_INVALID
    except OSError as err:
        print(
            f"{out_dir}: cannot write the run's outputs ({err}); choose --out DIR", file=sys.stderr
        )
        return EXIT_FAILED
    log = outputs.logger()
    log.info("run %s: %s, teams %s, seeds %s", cfg.name, cfg.scenario, cfg.teams, cfg.seeds)
    previous = _trap_stop_signals() if trap_signals else {}
    viewer = None
    try:
        if view:
            from swarm.view import LiveViewer

            viewer = LiveViewer(outputs.dir)
            console.print(f"live view: {viewer.url}")
        return _run_and_finish(cfg, launch, outputs, console, log, progress, trap_signals)
    finally:
        if viewer is not None:
            viewer.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run_and_finish(
    cfg: RunConfig,
    launch: Launch,
    outputs: RunOutputs,
    console: Console,
    log: logging.Logger,
    progress: Any,
    trap_signals: bool,
) -> int:
    """Fly every run, then write the final status, plots and scorecard; the exit code."""
    status, error, code = "failed", "the run stopped before its end", EXIT_FAILED
    disk_ok = True
    try:
        _run_all(cfg, launch, outputs, console, log, progress, trap_signals)
        status, error, code = _completion(cfg, outputs)
    except Stopped as stop:
        name = signal.Signals(stop.signum).name
        status, error, code = "interrupted", f"stopped by {name}", _STOP_SIGNALS[stop.signum]
        log.warning("interrupted by %s", name)
    except KeyboardInterrupt:
        status, error, code = "interrupted", "interrupted by the user (Ctrl-C)", EXIT_INTERRUPTED
        log.warning("interrupted")
    except OutputWriteError as err:
        status, error, code, disk_ok = "failed", str(err), EXIT_FAILED, False
    except Exception as err:
        status, error, code = "failed", f"{type(err).__name__}: {err}", EXIT_FAILED
        log.exception("run failed")
    except SystemExit as err:  # a library's own signal handler (Ray's sys.exit on SIGTERM)
        status, error, code = "interrupted", f"exited early ({err.code})", EXIT_TERMINATED
        log.warning("exited early (%s)", err.code)
    _ignore_stop_signals()  # the wrap-up below is short and keeps what the run did
    status_written = True
    try:
        outputs.finish(status, error)
    except OutputWriteError as err:
        status_written = disk_ok = False
        status, error, code = "failed", str(err), EXIT_FAILED
    if disk_ok:  # plots would fail the same way on a full disk
        _epilogue(cfg, outputs, console, log)
    if code:
        done = outputs.runs_on_disk()
        kept = (
            f"{done} completed team x seed run(s) kept in {outputs.results_path}"
            if status_written
            else f"{outputs.results_path} keeps the last completed run but says 'running'"
        )
        print(f"run {status}: {error}; {kept}; details in {outputs.log_path}", file=sys.stderr)
    return code


def _completion(cfg: RunConfig, outputs: RunOutputs) -> tuple[str, str | None, int]:
    """`complete` only when every planned team x seed has its record."""
    planned = len(cfg.teams) * len(cfg.seeds)
    done = run_count(outputs.doc)
    if done == planned:
        return "complete", None, 0
    return "failed", f"{done} of {planned} planned runs completed", EXIT_FAILED


def _run_all(
    cfg: RunConfig,
    launch: Launch,
    outputs: RunOutputs,
    console: Console,
    log: logging.Logger,
    outer: RunProgress | None,
    trap_signals: bool,
) -> None:
    """Start the runtime, pretrain what is missing, fly every team x seed, stop the runtime
    (also on errors)."""
    import ray

    from swarm.pool import HostPool
    from swarm.raylife import start_ray, stop_ray

    backend = "local" if launch.local else "ray"
    # a Ray already running in this process (a test session, a notebook) belongs to its owner
    owns_ray = backend == "ray" and not ray.is_initialized()
    pool = None
    tracker = Tracker(outputs.dir, outputs.doc["config"], cfg.output.csv_every, cfg.output.mlflow)
    try:
        ray_record: dict[str, Any] = {}
        if backend == "ray":
            address = launch.address or cfg.ray.address
            info = start_ray(address, num_cpus=cfg.ray.num_cpus)
            if trap_signals:
                _trap_stop_signals()  # ray.init replaced the SIGTERM handler with its own
            ray_record = info.record()
            outputs.set_ray({"backend": backend, **ray_record})  # kept if placement fails
            log.info("ray: %s", info)
            how = "embedded Ray" if info.embedded else f"joined Ray cluster ({info.requested})"
            console.print(
                f"ray {info.version}: {how} at {info.address}, {info.nodes} node(s), "
                f"{info.cpus:g} CPU(s)"
            )
        else:
            import torch

            torch.set_num_threads(1)  # the hosts compute in this process, beside others
        with contextlib.ExitStack() as stack:
            progress = outer or stack.enter_context(RunProgress(console, enabled=not launch.quiet))
            done = outputs.completed()  # a resumed run's: kept, not flown again
            if outer is None:
                progress.plan(len(cfg.teams) * len(cfg.seeds))
            if done:
                progress.skip(len(done), info=f"{len(done)} runs kept from {outputs.dir}")
                log.info("resumed: %d completed runs kept", len(done))
            _pretrain(cfg, outputs, progress, log)
            pool = HostPool(cfg, backend=backend)
            outputs.set_ray({"backend": backend, **ray_record, **pool.ray_info()})
            # every team is scored at the same ticks, those of the run's horizon (a team with
            # a longer one, single_large_budget, adds its own end)
            at = getattr(cfg, "ticks", None) or getattr(cfg.world, "horizon", None)
            teams = {}
            for team in cfg.teams:
                base, team_cfg = cfg.team_config(team)  # a variant: its base and overrides
                spec = make_world(team_cfg, 1, cfg.seeds[0]).token_spec
                teams[team] = (base, team_cfg, flop_rates(team_cfg, base, spec))
            # seed by seed, every team in turn: a run cut short keeps whole seeds of every
            # team, so its paired differences cover all teams (each mission is independent)
            for seed in cfg.seeds:
                for team, (base, team_cfg, rates) in teams.items():
                    if (team, seed) in done:
                        continue
                    ep, record = _one(
                        team_cfg, team, base, seed, pool, outputs, progress, tracker, at, rates
                    )
                    outputs.record(team, record)
                    log.info("%s seed %d: %d ticks, %s", team, seed, ep.ticks, ep.metrics)
    finally:
        tracker.close()
        if pool is not None:
            try:
                pool.close()
            except Exception:  # closing must not hide the error that got us here
                log.exception("closing the host pool failed")
        if owns_ray:
            stop_ray()


def _pretrain(cfg: Any, outputs: RunOutputs, progress: RunProgress, log: logging.Logger) -> None:
    """Pretraining as its own step: every model size the teams fly, from the cache or trained
    now; recorded in results.json's `pretrain` (so missions' `wall_seconds` exclude it)."""
    for label, size, team_cfg in needed_models(cfg):
        progress.pretraining(label, str(cache_dir()))
        done = warm_cache(team_cfg, size)
        how = "cached" if done.cached else f"trained in {done.seconds:.1f} s"
        progress.pretrained(f"{how}: {done.path}")
        log.info("pretrain %s (%d params): %s, %s", label, done.params, how, done.path)
        outputs.set_pretrain(label, done.record())


def _one(
    cfg: RunConfig,
    team: str,
    base: str,
    seed: int,
    pool: PoolLike,
    outputs: RunOutputs,
    progress: RunProgress,
    tracker: Tracker,
    run_horizon: int | None = None,
    rates: FlopRates | None = None,
) -> tuple[Episode, dict[str, Any]]:
    """One mission of `team` (preset `base`) flying with `cfg`, with its CSV rows,
    TensorBoard events and progress bar; returns it and its record.

    The record adds the drones flown, the mission's costs (`swarm.costs`) among its `stats`,
    and the per-tick metrics at the scorecard's fixed ticks of `run_horizon` (`at_ticks`;
    None: of the mission's own horizon) to `Episode.record()`.
    """
    checkpoints = CheckpointRows(None)

    def on_start(horizon: int | None) -> None:
        nonlocal checkpoints
        checkpoints = CheckpointRows(run_horizon or horizon)
        progress.start(team, seed, horizon)
        tracker.start(team, seed)

    def on_tick(tick: int, row: Mapping[str, float], last: bool) -> None:
        outputs.tick(team, seed, tick, row, last)
        checkpoints.add(tick, row)
        tracker.tick(tick, row, last)
        progress.update(tick, row)

    recorder = None
    horizon = cfg.ticks or getattr(cfg.world, "horizon", None)
    if record_enabled(cfg.output.record, team_drones(base, cfg.drones), horizon):
        path = trajectory_path(outputs.dir, team, seed)
        recorder = Recorder(path, team, seed, cfg.output.record_belief_every, cfg.output.live)
    ep = run_episode(cfg, base, seed, pool, on_start=on_start, on_tick=on_tick, recorder=recorder)
    record = ep.record()
    if recorder is not None:
        record["trajectory"] = str(recorder.path.relative_to(outputs.dir))
    record["drones"] = team_drones(base, cfg.drones)
    if rates is not None:
        train_steps = ep.stats.get("train_steps", 0.0)
        record["stats"].update(rates.of(record["drones"], ep.ticks, train_steps))
    record["at_ticks"] = checkpoints.rows()
    tracker.finish(record)
    progress.done(headline(ep.metrics))
    return ep, record


def _epilogue(cfg: RunConfig, outputs: RunOutputs, console: Console, log: logging.Logger) -> None:
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

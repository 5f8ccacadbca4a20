"""What a run leaves on disk: `runs/<name>-<timestamp>/` (or the `--out` folder).

```
config.yaml    the resolved RunConfig (every default filled in), re-runnable as is
results.json   the document below, rewritten atomically after EVERY completed team x seed
ticks.csv      one row per (team, seed, tick): the world's tick_metrics and the field AUC so far,
               every csv_every ticks
*.png          plots (swarm.plots), written at the end
run.log        what happened, tracebacks included
tb/            TensorBoard event files, one folder per team x seed (swarm.tracking)
trajectories/  <team>-s<seed>.npz recordings for `python -m swarm.view` (output.record;
               swarm.trajectory, docs/recording.md)
```

`results.json` (`SCHEMA_VERSION` 1)::

    {"schema_version": 1, "name": str, "scenario": str, "seeds": [int], "teams_order": [str],
     "status": "running" | "complete" | "interrupted" | "failed", "error": str | null,
     "started": ISO time, "updated": ISO time, "config": {resolved config},
     "ray": {"backend": "ray" | "local", "nodes": int, "hosts": int},
     "pretrain": {"small" | "large": {"size", "path", "cached", "seconds", "params"}},
     "teams": {team: {
         "runs": [{"seed", "ticks", "horizon", "metrics": {name: float},
                   "stats": {pool counters, "inference_flops", "train_flops"},
                   "auc_curve": [[tick, auc]],
                   "field_curve": [[tick, field_auc, field_probe_auc]], "wall_seconds",
                   "drones": int, "at_ticks": {tick: {tick metric: float}},
                   "restarts": [{"host", "call", "tick", "restored_round", "restored",
                                 "restored_tick", "lost_ticks"}]}],   # only if any
         "summary": {metric: {"median", "lo", "hi", "mean", "n"}},   # spread over seeds
         "estimates": {"end": {metric: ESTIMATE}, "at_ticks": {tick: {metric: ESTIMATE}},
                       "cost": {cost: ESTIMATE}},                      # cost per run
         "params_per_brain", "brains", "train_steps", "inference_flops", "train_flops",
         "cpu_seconds", "wire_messages", "wire_bytes", ...}},          # cost over all seeds
     "comparison": {"reference": team, "level": 0.95,
                    "metrics": {metric: {"better": "higher" | "lower" | "neither", "kind"}},
                    "teams": {team: {"end": {metric: DIFF}, "at_ticks": {tick: {metric: DIFF}},
                                     "cost": {cost: DIFF}}}}}

`summary` describes the seeds that ran (median and the 2.5-97.5 % spread of per-seed values);
`estimates` are 95 % confidence intervals: ESTIMATE is `swarm.stats.Estimate` (`stat`: mean,
rate or KM median; `value`, `lo`, `hi`, `n`, `interval`, `events`, `reached`), DIFF is
`swarm.stats.PairedDiff` (`diff` = team - reference over the seeds both ran, `lo`, `hi`, `p`,
`test`, `n`, `better`, `winner`). `at_ticks` holds the per-tick metrics at fixed fractions of
the run's horizon (`swarm.scorecard.CHECKPOINT_FRACTIONS`; a mission that ended earlier keeps
its last row; `single_large_budget`, whose own horizon is N times longer, is scored at the
same ticks). The costs are every numeric `stats` key and the run's `drones`, with their
direction in `swarm.scorecard.METRICS` (lower is better for FLOPs, traffic, drones); FLOPs
are `swarm.costs`'. These keys were added to schema 1 without changing any older key, so
readers of schema 1 keep working; a null bound is one that does not exist (a KM median not reached).

Because the file is replaced atomically (write a temporary file, then `os.replace`), a reader
or a crash never sees half a document: what is on disk is always the last completed run.

A run never writes into another run's folder: `RunOutputs` refuses a folder that already holds
run files (`RunFolderInUse`) unless asked to `resume` it: then the folder's results.json must
hold the same resolved config (else `RunFolderInUse` names the sections that differ), its
completed team x seed runs are kept (`completed()`), the rows and TensorBoard events of the
run that was cut short are set aside (`ticks.csv` keeps completed runs' rows; `tb/<run>` moves
to `tb/<run>.partial-N`, never deleted: `set_aside`), and new runs are appended. `new_run_dir`
makes the default folder with `mkdir`, adding `-2`, `-3`, ... when the timestamped name is
taken (two runs started in the same second). A write that fails (full or read-only disk)
raises `OutputWriteError` naming the file; `finish` then still tries to mark results.json
`failed`, in place if the disk has no room for a copy.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
import logging
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from swarm.scorecard import comparison, cost_totals, summarize_runs, team_estimates

__all__ = [
    "RUN_FILES",
    "SCHEMA_VERSION",
    "OutputWriteError",
    "RunFolderInUse",
    "RunOutputs",
    "atomic_write_json",
    "config_differences",
    "new_run_dir",
    "run_count",
    "run_dir_name",
    "set_aside",
    "team_entry",
]

SCHEMA_VERSION = 1
_KEYS = ("team", "seed", "tick")  # the CSV's leading columns
RUN_FILES = ("results.json", "config.yaml", "ticks.csv", "run.log")
"""Files whose presence marks a folder as holding a run (never overwritten)."""


class RunFolderInUse(FileExistsError):
    """The output folder already holds a run; the message says what to do."""


class OutputWriteError(OSError):
    """Writing a run's outputs failed (full or read-only disk); the message names the file."""


def _write_error(path: Path, err: OSError) -> OutputWriteError:
    out = OutputWriteError(f"cannot write {path}: {err.strerror or err}")
    out.errno = err.errno
    return out


def run_dir_name(name: str, when: dt.datetime | None = None) -> str:
    """`<name>-<YYYYmmdd-HHMMSS>`: the default output folder of a run under `output.dir`."""
    when = when or dt.datetime.now()
    return f"{name}-{when:%Y%m%d-%H%M%S}"


def new_run_dir(parent: Path, name: str, when: dt.datetime | None = None) -> Path:
    """Create and return a fresh `parent/<run_dir_name>` folder, `-2`, `-3`... if taken.

    `mkdir` without exist_ok is the claim, so two runs started in the same second (even in
    two processes) never share a folder."""
    base = run_dir_name(name, when)
    Path(parent).mkdir(parents=True, exist_ok=True)
    for i in range(1, 10_000):
        path = Path(parent) / (base if i == 1 else f"{base}-{i}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RunFolderInUse(f"{parent}: 9999 runs named {base}-*; clean up or choose --out DIR")


def atomic_write_json(path: Path, doc: Mapping[str, Any]) -> None:
    """Write `doc` as JSON to `path` so that readers see the old or the new file, never a mix."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are for sharing
        with os.fdopen(fd, "w") as fh:
            json.dump(_jsonable(doc), fh, indent=1, allow_nan=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_count(doc: Mapping[str, Any]) -> int:
    """Completed team x seed runs in a results.json document (its teams' `runs`)."""
    return sum(len(t.get("runs", [])) for t in doc.get("teams", {}).values())


def team_entry(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """A team's section of results.json from its per-seed run records (see module docstring)."""
    entry: dict[str, Any] = {
        "runs": runs,
        "summary": summarize_runs(runs),
        "estimates": team_estimates(runs),
    }
    entry.update(cost_totals([r.get("stats", {}) for r in runs]))
    return entry


def config_differences(old: Mapping[str, Any], new: Mapping[str, Any], at: str = "") -> list[str]:
    """Dotted paths where two resolved configs (plain data) differ, shallowest first."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            where = f"{at}.{key}" if at else str(key)
            if key not in old or key not in new:
                out.append(where)
            else:
                out += config_differences(old[key], new[key], where)
        return out
    return [] if old == new else [at or "(root)"]


class RunOutputs:
    """The output folder of one run; `record` is called after each completed team x seed.

    `config` is the resolved configuration as plain data (`RunConfig.model_dump(mode="json")`);
    `csv_every` keeps every n-th tick in the CSV (the last tick of a run is always kept);
    `reference` is the team others are compared with (None: `swarm`, else the first team).
    `resume`: continue the run already in `directory` (module docstring).
    """

    def __init__(
        self,
        directory: Path,
        *,
        name: str,
        scenario: str,
        seeds: list[int],
        teams: list[str],
        config: Mapping[str, Any],
        csv_every: int = 1,
        reference: str | None = None,
        resume: bool = False,
    ) -> None:
        if csv_every < 1:
            raise ValueError(f"csv_every must be >= 1, got {csv_every}")
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        taken = [f for f in RUN_FILES if (self.dir / f).exists()]
        if resume:
            self._reopen(config, csv_every, reference)
            return
        if taken:
            raise RunFolderInUse(
                f"{self.dir} already holds a run ({', '.join(taken)}); runs are never "
                "overwritten: choose another --out DIR, or leave --out off for a new folder"
            )
        self.results_path = self.dir / "results.json"
        self.csv_path = self.dir / "ticks.csv"
        self.log_path = self.dir / "run.log"
        self.config_path = self.dir / "config.yaml"
        self.csv_every = csv_every
        self.reference = reference
        self._csv_fields: list[str] | None = None
        self._csv_file = None
        self._runs: dict[str, list[dict[str, Any]]] = {t: [] for t in teams}
        self._on_disk: dict[str, Any] = {}  # the results.json last written in full
        now = _now()
        self.doc: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "name": name,
            "scenario": scenario,
            "seeds": list(seeds),
            "teams_order": list(teams),
            "status": "running",
            "error": None,
            "started": now,
            "updated": now,
            "config": dict(config),
            "ray": {},
            "teams": {},
            "comparison": comparison({}, reference),
        }
        try:
            with self.config_path.open("w") as fh:
                yaml.safe_dump(_jsonable(config), fh, sort_keys=False)
        except OSError as err:
            raise _write_error(self.config_path, err) from None
        self._flush()

    def _reopen(self, config: Mapping[str, Any], csv_every: int, reference: str | None) -> None:
        """Continue the run in self.dir (see `resume`); RunFolderInUse if it cannot be."""
        self.results_path = self.dir / "results.json"
        try:
            old = json.loads(self.results_path.read_text())
        except (OSError, ValueError) as err:
            raise RunFolderInUse(
                f"{self.dir} holds no readable results.json to resume ({err}); "
                "start a new run without --resume"
            ) from None
        differ = config_differences(old.get("config", {}), _jsonable(config))
        if differ:
            raise RunFolderInUse(
                f"{self.dir} holds a run of another configuration (differs at "
                f"{', '.join(differ[:6])}); resume it with the same file and flags, or "
                "start a new run"
            )
        self.csv_path = self.dir / "ticks.csv"
        self.log_path = self.dir / "run.log"
        self.config_path = self.dir / "config.yaml"
        self.csv_every, self.reference = csv_every, reference
        self._runs = {t: list(e.get("runs", [])) for t, e in old.get("teams", {}).items()}
        for team in old.get("teams_order", []):
            self._runs.setdefault(team, [])
        self.doc = {**old, "status": "running", "error": None}
        self._on_disk = old
        kept = self.completed()
        self._csv_fields, self._csv_file = self._keep_rows(kept)
        tb = self.dir / "tb"
        for folder in sorted(tb.glob("*")) if tb.is_dir() else []:
            if folder.is_dir() and ".partial-" not in folder.name:
                team, _, seed = folder.name.rpartition("-seed")
                if (team, int(seed) if seed.isdigit() else -1) not in kept:
                    set_aside(folder)
        self._flush()

    def completed(self) -> set[tuple[str, int]]:
        """(team, seed) of every run this folder's results hold."""
        return {(t, int(r["seed"])) for t, runs in self._runs.items() for r in runs}

    def _keep_rows(self, kept: set[tuple[str, int]]) -> tuple[list[str] | None, Any]:
        """Rewrite ticks.csv with the rows of completed runs only; reopen it to append."""
        if not self.csv_path.exists():
            return None, None
        with self.csv_path.open(newline="") as fh:
            rows = list(csv.reader(fh))
        if not rows:
            return None, None
        fields, body = rows[0], rows[1:]
        keep = [r for r in body if len(r) > 1 and (r[0], int(r[1])) in kept]
        tmp = self.csv_path.with_name(".ticks.csv.resume")
        with tmp.open("w", newline="") as fh:
            csv.writer(fh).writerows([fields, *keep])
        os.replace(tmp, self.csv_path)
        return fields, self.csv_path.open("a", newline="")

    def logger(self) -> logging.Logger:
        """A logger writing to run.log (one handler per folder, added once)."""
        log = logging.getLogger(f"swarm.run.{self.dir.resolve()}")
        if not log.handlers:
            handler = _QuietFileHandler(self.log_path)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
            log.addHandler(handler)
            log.setLevel(logging.INFO)
            log.propagate = False
        return log

    def set_ray(self, info: Mapping[str, Any]) -> None:
        """Record where the run ran: backend, Ray nodes and host actors."""
        self.doc["ray"] = dict(info)
        self._flush()

    def set_pretrain(self, size: str, info: Mapping[str, Any]) -> None:
        """Record the pretraining step of model `size`: cache path, cached or seconds spent
        (kept out of the missions' `wall_seconds`)."""
        self.doc.setdefault("pretrain", {})[size] = dict(info)
        self._flush()

    def tick(self, team: str, seed: int, tick: int, row: Mapping[str, float], last: bool) -> None:
        """Append one per-tick row (every `csv_every` ticks, and always the `last` one)."""
        if tick % self.csv_every and not last:
            return
        # the run's own keys win: a world that also reports its tick says the same number
        row = {k: v for k, v in row.items() if k not in _KEYS}
        if self._csv_fields is None:
            self._csv_fields = [*_KEYS, *row.keys()]
            self._csv_file = self.csv_path.open("w", newline="")
            csv.writer(self._csv_file).writerow(self._csv_fields)
        extra = set(row) - set(self._csv_fields)
        if extra:
            raise ValueError(
                f"tick_metrics gained columns {sorted(extra)} after the CSV header was written; "
                "a scenario's tick_metrics() must return the same keys every tick"
            )
        vals = {**row, "team": team, "seed": seed, "tick": tick}
        try:
            csv.writer(self._csv_file).writerow(
                [_csv_cell(vals.get(k, "")) for k in self._csv_fields]
            )
        except OSError as err:
            raise _write_error(self.csv_path, err) from None

    def record(self, team: str, run: dict[str, Any]) -> None:
        """Add one completed team x seed run and rewrite results.json atomically."""
        if team not in self._runs:
            self._runs[team] = []
            self.doc["teams_order"].append(team)
        self._runs[team].append(run)
        self.doc["teams"][team] = team_entry(self._runs[team])
        self.doc["comparison"] = comparison(self.doc["teams"], self.reference)
        if self._csv_file is not None:
            try:
                self._csv_file.flush()
            except OSError as err:
                raise _write_error(self.csv_path, err) from None
        self._flush()

    def finish(self, status: str, error: str | None = None) -> None:
        """Close the CSV and write the final status ("complete", "interrupted" or "failed").

        Runs to the end whatever fails: a CSV that cannot be flushed does not keep the status
        from being written. When even a small copy of results.json does not fit on the disk,
        the file is rewritten in place (it shrinks or keeps its size, so no new space is
        needed); an `OutputWriteError` is raised only if results.json could not be updated."""
        if self._csv_file is not None:
            # a full disk: the status below matters more than the CSV's last rows
            with contextlib.suppress(OSError):
                self._csv_file.close()
            self._csv_file = None
        self.doc["status"] = status
        self.doc["error"] = error
        try:
            self._flush()
        except OutputWriteError as err:
            if not self._rewrite_in_place():
                raise err from None

    def runs_on_disk(self) -> int:
        """Completed team x seed runs in the results.json last written (a full disk may have
        kept the latest records from reaching it)."""
        return run_count(self._on_disk)

    def _flush(self) -> None:
        self.doc["updated"] = _now()
        plain = _jsonable(self.doc)  # a copy: what is on disk if the write succeeds
        try:
            atomic_write_json(self.results_path, plain)
        except OSError as err:
            raise _write_error(self.results_path, err) from None
        self._on_disk = plain

    def _rewrite_in_place(self) -> bool:
        """Overwrite results.json with its last written document, marked with the current
        status and error, if that needs no new disk space.

        The runs on disk are kept (a run whose record never reached the disk stays lost); a
        written compact, it fits in the old indented file's bytes (a very long error text is
        cut until it does), and the rest is padded with spaces (valid JSON whitespace)."""
        try:
            old = self.results_path.stat().st_size
            doc = {**self._on_disk, "status": self.doc["status"], "error": self.doc["error"]}
            compact = {"separators": (",", ":"), "allow_nan": False}  # frees the indentation
            text = json.dumps(doc, **compact).encode()
            while len(text) > old and doc["error"]:
                doc["error"] = doc["error"][: max(len(doc["error"]) - (len(text) - old), 0)]
                text = json.dumps(doc, **compact).encode()
            if len(text) > old:
                return False
            with self.results_path.open("r+b") as fh:
                fh.write(text + b" " * (old - len(text)))
                fh.flush()
                os.fsync(fh.fileno())
            return True
        except OSError:
            return False


def set_aside(folder: Path) -> Path:
    """Move `folder` to `<folder>.partial-N` (kept, never deleted)."""
    for i in range(1, 10_000):
        aside = folder.with_name(f"{folder.name}.partial-{i}")
        if not aside.exists():
            folder.rename(aside)
            return aside
    raise RunFolderInUse(f"{folder}: too many partial copies; clean up old .partial-N folders")


class _QuietFileHandler(logging.FileHandler):
    """run.log; a failed write (full disk) is dropped silently instead of printing a
    traceback: the run's own one-line error says what happened."""

    def handleError(self, record: logging.LogRecord) -> None:
        pass


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _csv_cell(x: Any) -> Any:
    if isinstance(x, bool | np.bool_):
        return int(x)
    if isinstance(x, float | np.floating):
        return repr(float(x))
    return x


def _jsonable(x: Any) -> Any:
    """Plain JSON types: numpy scalars/arrays unwrapped, non-finite floats as null."""
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, bool | np.bool_):
        return bool(x)
    if isinstance(x, int | np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, Path):
        return str(x)
    return x

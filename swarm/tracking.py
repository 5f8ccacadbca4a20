"""Experiment tracking: every run's per-tick metrics and summaries as TensorBoard event files.

Each team x seed run writes to `RUN_DIR/tb/<team>-seed<seed>/` with torch's `SummaryWriter`,
so `tensorboard --logdir runs/` lists every run of every study side by side:

- `tick/<metric>` at step = tick: the world's tick metrics, every `output.csv_every` ticks
  (the CSV's cadence) and at the last tick;
- `auc/probe` at step = tick: the detector AUC on the world's (source) probe set;
  `auc/field` and `auc/field_probe`: the field AUC so far and the field-probe AUC;
- `final/<metric>` and `cost/<counter>` at step 0: the mission's end metrics and its pool
  counters (train steps, messages, wire bytes, CPU seconds).

When `output.mlflow` names a tracking URI and `mlflow` is installed, the same end metrics go
to MLflow too (one MLflow run per team x seed, params = the resolved config's leaves).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["TB_DIR", "Tracker", "flat_params"]

TB_DIR = "tb"
"""Sub-folder of a run folder that holds its TensorBoard event files."""


def flat_params(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """The leaves of a nested config as `{"protocol.topology.kind": "ring", ...}`."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flat_params(value, path + "."))
        else:
            out[path] = value
    return out


def _float(v: Any) -> float:
    """A curve value as a float (None, JSON's NaN, as NaN)."""
    return math.nan if v is None else float(v)


class Tracker:
    """TensorBoard (always) and MLflow (when configured) writers of one run folder.

    `start(team, seed)` opens a run's writer, `tick(...)` logs a tick row, `finish(record)`
    logs the run record's end metrics, counters and AUC curve and closes the writer.
    """

    def __init__(
        self,
        run_dir: Path,
        config: Mapping[str, Any],
        every: int = 1,
        mlflow_uri: str | None = None,
    ) -> None:
        self.root = Path(run_dir) / TB_DIR
        self.config = config
        self.every = max(1, every)
        self.mlflow_uri = mlflow_uri
        self._writer: Any = None

    def start(self, team: str, seed: int) -> None:
        """Open the event file of `team` x `seed` (closing any left open)."""
        from torch.utils.tensorboard import SummaryWriter

        self.close()
        self._writer = SummaryWriter(log_dir=str(self.root / f"{team}-seed{seed}"))
        self._team, self._seed = team, seed

    def tick(self, tick: int, row: Mapping[str, Any], last: bool) -> None:
        """Log `row`'s numeric tick metrics at step `tick` (every `every` ticks and the last)."""
        if self._writer is None or (tick % self.every and not last):
            return
        for key, value in row.items():
            if isinstance(value, bool | int | float):
                self._writer.add_scalar(f"tick/{key}", float(value), tick)

    def finish(self, record: Mapping[str, Any]) -> None:
        """Log a run record (`Episode.record()`): end metrics, pool counters, AUC curves."""
        if self._writer is None:
            return
        finals = {f"final/{k}": _float(v) for k, v in record.get("metrics", {}).items()}
        costs = {f"cost/{k}": _float(v) for k, v in record.get("stats", {}).items()}
        for tag, value in {**finals, **costs}.items():
            self._writer.add_scalar(tag, value, 0)
        for tick, auc in record.get("auc_curve", []):
            self._writer.add_scalar("auc/probe", _float(auc), int(tick))
        for tick, field, probe in record.get("field_curve", []):
            if field is not None:  # undefined until a drone has seen a target
                self._writer.add_scalar("auc/field", float(field), int(tick))
            self._writer.add_scalar("auc/field_probe", _float(probe), int(tick))
        self._writer.add_scalar("cost/wall_seconds", float(record.get("wall_seconds", 0.0)), 0)
        self.close()
        if self.mlflow_uri:
            self._to_mlflow({**finals, **costs})

    def close(self) -> None:
        """Flush and close the open event file, if any."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _to_mlflow(self, metrics: Mapping[str, float]) -> None:
        import mlflow

        mlflow.set_tracking_uri(self.mlflow_uri)
        mlflow.set_experiment(str(self.config.get("name", "swarm")))
        with mlflow.start_run(run_name=f"{self._team}-seed{self._seed}"):
            mlflow.log_params({k: str(v)[:500] for k, v in flat_params(self.config).items()})
            mlflow.log_metrics({k.replace("/", "."): v for k, v in metrics.items()})

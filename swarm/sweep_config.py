"""A study's `sweep:` section: which config fields to vary, expanded into named points.

```yaml
sweep:
  grid:                          # every combination of these values (a cartesian product)
    drones: [4, 8, 16]
    protocol.topology.kind: [ring, star]
  points:                        # and/or named points, each a set of field overrides
    - {name: small_codec, set: {protocol.codec.fraction: 0.1}}
```

Grid keys and `set` keys are dotted field paths, exactly as for `--set` (`swarm.overrides`).
With both, every named point is crossed with every grid combination. Every point runs the
file's teams x seeds, so a study is points x teams x seeds runs; each point is validated as
a run config before anything starts.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from swarm.overrides import dotted

__all__ = ["MAX_POINTS", "NamedPoint", "Point", "SweepSpec"]

MAX_POINTS = 1000
"""Most points one sweep may expand to (each is teams x seeds full missions)."""
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _check_path(path: str) -> str:
    if not _PATH.match(path):
        raise ValueError(f"{path!r} is not a field path; write e.g. protocol.topology.kind")
    if path == "sweep" or path.startswith("sweep."):
        raise ValueError("a sweep cannot vary its own `sweep` section")
    return path


class NamedPoint(BaseModel):
    """One named point: `name` (its folder and table label) and the fields it `set`s."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=80)
    set: dict[str, Any] = Field(default_factory=dict, description="dotted path -> value")

    @field_validator("set")
    @classmethod
    def _paths(cls, v: dict[str, Any]) -> dict[str, Any]:
        for path in v:
            _check_path(path)
        return v


class Point(BaseModel):
    """One expanded point: `name`, its overrides (`{dotted path: value}`) and its folder."""

    name: str
    overrides: dict[str, Any]

    @property
    def folder(self) -> str:
        """The point's run-folder name under the sweep folder (file-system safe)."""
        return re.sub(r"[^A-Za-z0-9_.=,-]+", "_", self.name)[:120]


class SweepSpec(BaseModel):
    """The `sweep:` section of a study file (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    grid: dict[str, list[Any]] = Field(
        default_factory=dict, description="dotted path -> the values to cross"
    )
    points: list[NamedPoint] = Field(default_factory=list, description="named override sets")

    @field_validator("grid")
    @classmethod
    def _grid(cls, v: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for path, values in v.items():
            _check_path(path)
            if not values:
                raise ValueError(f"grid {path}: give at least one value")
        return v

    @field_validator("points")
    @classmethod
    def _unique_names(cls, v: list[NamedPoint]) -> list[NamedPoint]:
        names = [p.name for p in v]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"each point name may appear once; repeated: {', '.join(dupes)}")
        return v

    def axes(self) -> list[str]:
        """The swept field paths, grid first, then those the named points set."""
        out = list(self.grid)
        for p in self.points:
            out += [k for k in p.set if k not in out]
        return out

    def expand(self) -> list[Point]:
        """Every point: named points x grid combinations (either alone when the other is
        empty); ValueError when there are none or more than MAX_POINTS."""
        combos = [
            dict(zip(self.grid, values, strict=True))
            for values in itertools.product(*self.grid.values())
        ]
        named = self.points or [NamedPoint(name="base")]
        out: list[Point] = []
        for p in named:
            for combo in combos:
                label = ",".join(s for s in (p.name if self.points else "", dotted(combo)) if s)
                out.append(Point(name=label or p.name, overrides={**p.set, **combo}))
        if len(out) > MAX_POINTS:
            raise ValueError(f"the sweep expands to {len(out)} points; at most {MAX_POINTS}")
        return out

"""Command-line overrides of a scenario file: `--set path=value`, `--grid path=a,b,c`.

A path is the dotted name of any config field, nested sections included
(`protocol.topology.kind`, `model.small.d_model`, `world.height`). A value is read as one
YAML 1.2 value by the same strict loader as the files (`swarm.yaml_lines`): `32` is an int,
`1e-4` a float, `true` a boolean, `yes` a string, `[swarm, isolated]` a list,
`{kind: topk_int8, fraction: 0.25}` a section. The overridden config is validated by the same
models as a file, and every error names the flag that caused it::

    --set protocol.topolgy.kind=star: protocol.topolgy: unknown field 'topolgy'; did you mean
    'topology'?

A grid value is a comma-separated list of values (`--grid drones=4,8,16`), or one YAML flow
list when the values themselves hold commas (`--grid 'teams=[[swarm],[swarm,isolated]]'`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from swarm.yaml_lines import YamlLoadError, parse_yaml

__all__ = [
    "Override",
    "OverrideError",
    "as_mapping",
    "dotted",
    "name_flags",
    "parse_grid",
    "parse_set",
    "parse_value",
]

_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class OverrideError(ValueError):
    """A `--set` or `--grid` argument is malformed; the message names the flag."""


@dataclass(frozen=True)
class Override:
    """One field set on the command line: `path` (dotted), its parsed `value`, and `flag`,
    the text that names it in error messages (`--set drones=8`, `--ticks 3`)."""

    path: str
    value: Any
    flag: str


def parse_value(text: str, flag: str) -> Any:
    """`text` read as one YAML 1.2 value (see the module docstring); OverrideError if it is
    not valid YAML or is empty (null cannot be set from the command line)."""
    try:
        value = parse_yaml(text, flag).data
    except YamlLoadError as err:
        detail = err.errors[0].split(": ", 1)[-1]
        raise OverrideError(f"{flag}: {detail}") from None
    if value is None:
        raise OverrideError(
            f"{flag}: give a value after '=' (an empty or null value cannot be set on the "
            "command line; edit the file to clear a field)"
        )
    return value


def _split(text: str, flag: str) -> tuple[str, str]:
    path, eq, raw = text.partition("=")
    path = path.strip()
    if not eq:
        raise OverrideError(f"{flag} {text}: write PATH=VALUE, e.g. {flag} drones=8")
    if not _PATH.match(path):
        # a list item (teams.0) has no path of its own: the whole list is one value
        whole = " (a list is set whole, e.g. teams=[swarm, isolated])" if any(
            part.isdigit() for part in path.split(".")
        ) else ""  # fmt: skip
        raise OverrideError(
            f"{flag} {text}: {path!r} is not a field path; write dotted field names, "
            f"e.g. protocol.topology.kind{whole}"
        )
    return path, raw.strip()


def parse_set(text: str) -> Override:
    """`"protocol.topology.kind=star"` -> Override(path, "star", "--set ...")."""
    path, raw = _split(text, "--set")
    flag = f"--set {text}"
    return Override(path, parse_value(raw, flag), flag)


def parse_grid(text: str) -> tuple[str, list[Any]]:
    """`"drones=4,8,16"` -> ("drones", [4, 8, 16]); a YAML flow list `[...]` is read whole."""
    path, raw = _split(text, "--grid")
    flag = f"--grid {text}"
    if raw.startswith("["):
        values = parse_value(raw, flag)
    else:
        values = [parse_value(part.strip(), flag) for part in raw.split(",")]
    if not isinstance(values, list) or not values:
        raise OverrideError(f"{flag}: give one or more values, e.g. --grid {path}=4,8,16")
    return path, values


def as_mapping(overrides: Iterable[Override]) -> dict[str, Any]:
    """`{path: value}` for `swarm.config.load_config` (a later override of a path wins)."""
    return {o.path: o.value for o in overrides}


def _related(where: str, path: str) -> bool:
    """Is the error at field `where` about the overridden `path` (one contains the other)?"""
    return where == path or where.startswith(path + ".") or path.startswith(where + ".")


def name_flags(lines: list[str], file: str, overrides: Iterable[Override]) -> list[str]:
    """Config error lines rewritten to name the flag that caused them.

    `lines` are `FILE[:LINE]: field.path: message` (swarm.config); a line whose field is, or
    lies inside, an overridden path becomes `FLAG: field.path: message` (`FLAG: message` when
    the field is the flag's own path)."""
    suffix = " (set on the command line)"
    found = list(overrides)
    out: list[str] = []
    pattern = re.compile(rf"^{re.escape(file)}(?::\d+)?: ([^:\s]+): (.*)$", re.S)
    for line in lines:
        for o in found:  # a step of the path is a value, not a section (swarm.config)
            if line.startswith(f"override {o.path}: "):
                line = f"{o.flag}: " + line[len(f"override {o.path}: ") :]
        m = pattern.match(line)
        hit = None
        if m:
            hits = [o for o in found if _related(m.group(1), o.path)]
            hit = hits[-1] if hits else None
        if hit is None:
            out.append(line)
            continue
        message = m.group(2)
        message = message[: -len(suffix)] if message.endswith(suffix) else message
        where = "" if m.group(1) == hit.path else f"{m.group(1)}: "  # the flag names it already
        out.append(f"{hit.flag}: {where}{message}")
    return out


def dotted(mapping: Mapping[str, Any]) -> str:
    """`drones=8,protocol.topology.kind=star`: a point's overrides as one short label."""
    return ",".join(f"{k}={_short(v)}" for k, v in mapping.items())


def _short(v: Any) -> str:
    if isinstance(v, list):
        return "[" + ",".join(_short(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(f"{k}:{_short(x)}" for k, x in v.items()) + "}"
    return str(v).lower() if isinstance(v, bool) else str(v)

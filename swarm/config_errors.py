"""Turn pydantic validation errors into `FILE:LINE: field.path: message` lines.

A pydantic error's `loc` is a path into the validated data, plus bookkeeping steps that are
not in the file (union tags, `function-after[...]`); those are dropped, and the rest is
looked up in the YAML line map. An unknown key gets a did-you-mean suggestion from the
field names of the model it was written in.
"""

from __future__ import annotations

import difflib
import inspect
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from swarm.yaml_lines import Loc, YamlDoc

__all__ = [
    "AUTO_TAG",
    "VALUE_TAG",
    "clean_loc",
    "fields_at",
    "format_errors",
    "model_in",
    "suggest",
]

# Tags of `swarm.config`'s `X | "auto"` unions: they appear in a pydantic error's loc, and
# `clean_loc` drops them because they are not in the file.
AUTO_TAG, VALUE_TAG = "<auto>", "<value>"
_MISSING = object()


def clean_loc(loc: tuple[Any, ...], data: Any) -> Loc:
    """`loc` without the steps that are not keys or indices of `data`.

    Keys missing from `data` are kept (a missing or unknown field names itself); steps below
    a scalar (a union tag after the value) and pydantic's internal step names are dropped.
    """
    out: list[str | int] = []
    cur = data
    for step in loc:
        if step in (AUTO_TAG, VALUE_TAG) or (isinstance(step, str) and "[" in step):
            continue
        if isinstance(cur, dict):
            out.append(step)
            cur = cur.get(step, _MISSING)
        elif isinstance(cur, list) and isinstance(step, int) and 0 <= step < len(cur):
            out.append(step)
            cur = cur[step]
        elif cur is _MISSING:
            out.append(step)
    return tuple(out)


def model_in(annotation: Any) -> type[BaseModel] | None:
    """The first pydantic model inside an annotation (`X | None`, `list[X]`, `Annotated`)."""
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = model_in(arg)
        if found is not None:
            return found
    return None


def fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """Field names of the model that holds the last step of `loc` (start at `model`)."""
    current: type[BaseModel] | None = model
    for step in loc[:-1]:
        if current is None:
            return []
        info = current.model_fields.get(step) if isinstance(step, str) else None
        if info is not None:  # list indices and dict keys keep the current model
            current = model_in(info.annotation)
    return list(current.model_fields) if current is not None else []


def suggest(key: str, allowed: list[str]) -> str:
    """`"did you mean 'size'?"` for the closest allowed name, else the allowed list."""
    close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if allowed:
        return "allowed: " + ", ".join(allowed)
    return "remove it"


def _message(err: dict[str, Any], loc: Loc, model: type[BaseModel]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        key = loc[-1] if loc else "?"
        return f"unknown field '{key}'; {suggest(str(key), fields_at(model, loc))}"
    if kind == "missing":
        return "required field is missing; add it"
    msg = err["msg"]
    if msg.startswith("Value error, "):  # pydantic's prefix for ValueError from validators
        msg = msg[len("Value error, ") :]
    value = err.get("input")
    if kind != "cross_check" and isinstance(value, str | int | float | bool):
        msg += f" (got {value!r})"
    return msg


def format_errors(
    error: ValidationError,
    doc: YamlDoc,
    model: type[BaseModel],
    overridden: set[Loc] | None = None,
) -> list[str]:
    """One `FILE:LINE: field.path: message` line per error, sorted by line.

    `model` is the class that was validated (for suggestions); `overridden` holds paths set
    on the command line, whose errors say so instead of pointing into the file.
    """
    overridden = overridden or set()
    rows: list[tuple[int, str]] = []
    for err in error.errors(include_url=False):
        loc = clean_loc(err["loc"], doc.data)
        where = ".".join(str(p) for p in loc) or "(top level)"
        text = _message(err, loc, model)
        if any(loc[: len(o)] == o for o in overridden):
            rows.append((0, f"{doc.path}: {where}: {text} (set on the command line)"))
        else:
            line = doc.line_of(loc)
            rows.append((line, f"{doc.path}:{line}: {where}: {text}"))
    rows.sort(key=lambda r: r[0])
    return [text for _, text in rows]

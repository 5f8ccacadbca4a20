"""JSON Schema of scenario files: `python -m swarm.schema > swarm.schema.json`.

Editors (VS Code's YAML extension, for one) use it to complete and check scenario files as
they are typed. The `world` section depends on `scenario`, so the schema is a union of one
`RunConfig` per registered scenario, discriminated by the `scenario` field. Cross-field
checks (drones versus map cells, ...) are not expressible in JSON Schema: run
`python -m swarm.validate` for those.
"""

from __future__ import annotations

import inspect
import json
import sys
import types
import typing
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, TypeAdapter
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from swarm.config_errors import model_in

__all__ = ["main", "markdown_tables", "run_config_schema"]


def run_config_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) that a scenario YAML file's data must satisfy."""
    from swarm.config import run_config_class
    from swarm.config_checks import registry

    classes = tuple(run_config_class(name) for name in sorted(registry()))
    if not classes:
        raise RuntimeError("no scenario is registered in scenarios.REGISTRY")
    union = Annotated[Union[classes], Field(discriminator="scenario")]  # noqa: UP007
    schema = TypeAdapter(union).json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "swarm scenario file"
    return schema


# Sections of a scenario file, in the order docs/scenarios.md lists them: (YAML path, model).
def _sections() -> list[tuple[str, type[BaseModel]]]:
    from agents.config import LearnerConfig, YanConfig
    from protocols.config import CodecConfig, ProtocolConfig, TopologyConfig
    from swarm import config as c
    from swarm import fault_config as f
    from swarm.config_checks import registry
    from swarm.variants import TeamVariant, VariantModels

    out: list[tuple[str, type[BaseModel]]] = [
        ("(top level)", c.RunConfig),
        ("policy", c.PolicyConfig),
        ("model", c.ModelsConfig),
        ("model.small, model.large", YanConfig),
        ("learner", LearnerConfig),
        ("protocol", ProtocolConfig),
        ("protocol.topology", TopologyConfig),
        ("protocol.codec", CodecConfig),
        ("faults", f.FaultsConfig),
        ("faults.links[]", f.LinkConfig),
        ("faults.partitions[]", f.PartitionConfig),
        ("faults.crashes[]", f.CrashConfig),
        ("faults.byzantine", f.ByzantineConfig),
        ("hosts", c.HostsConfig),
        ("ray", c.RayConfig),
        ("output", c.OutputConfig),
        ("variants[]", TeamVariant),
        ("variants[].model", VariantModels),
    ]
    for name in sorted(registry()):
        out.append((f"world (scenario: {name})", registry()[name].Config))
    return out


def _type_name(annotation: Any) -> str:
    """A reader's name for a field type: `int`, `'auto' | int`, `list of int`, `section`."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        return _type_name(args[0])
    if origin is Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        return " | ".join(names) + (" | null" if type(None) in args else "")
    if origin in (list, tuple):
        return "list of " + (_type_name(args[0]) if args else "any")
    if origin is dict:
        return "map of " + (_type_name(args[1]) if len(args) > 1 else "any")
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return "section"
    return getattr(annotation, "__name__", str(annotation))


_BOUNDS = (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"), ("min_length", "length ≥"))


def _field_type(info: FieldInfo) -> str:
    """The type a YAML author writes, with its bounds: `int, ≥ 1`, `float, > 0, ≤ 1`."""
    written = info.annotation
    for meta in info.metadata:  # a before-validator may accept more than the stored type
        accepted = getattr(meta, "json_schema_input_type", PydanticUndefined)
        if accepted is not PydanticUndefined:
            written = accepted
    bounds = [
        f"{sign} {getattr(meta, attr)}"
        for meta in info.metadata
        for attr, sign in _BOUNDS
        if getattr(meta, attr, None) is not None
    ]
    return ", ".join([_type_name(written), *bounds])


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    value = info.default_factory() if info.default_factory is not None else info.default
    if isinstance(value, BaseModel):
        return "see below"
    return json.dumps(value)


def _meaning(info: FieldInfo) -> str:
    if info.description:
        return info.description
    nested = model_in(info.annotation)
    doc = (nested.__doc__ or "").strip() if nested is not None else ""
    return doc.split("\n")[0]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_tables() -> str:
    """Field reference of every section as markdown tables (pasted into docs/scenarios.md).

    Each table follows a `<!-- model: module.Class -->` line, which the docs test uses to
    compare the documented field names with the models'.
    """
    parts = []
    for where, model in _sections():
        parts.append(f"### `{where}`\n")
        parts.append(f"<!-- model: {model.__module__}.{model.__qualname__} -->\n")
        parts.append("| field | type | default | meaning (unit) |\n|---|---|---|---|")
        for name, info in model.model_fields.items():
            row = (f"`{name}`", _field_type(info), _default(info), _meaning(info))
            parts.append("| " + " | ".join(_cell(x) for x in row) + " |")
        parts.append("")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    """Print the schema as indented JSON (`--markdown`: the field tables); returns exit code."""
    args = sys.argv[1:] if argv is None else argv
    try:
        text = (
            markdown_tables() if "--markdown" in args else json.dumps(run_config_schema(), indent=2)
        )
    except Exception as err:  # print the reason, not a traceback
        print(f"swarm.schema: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

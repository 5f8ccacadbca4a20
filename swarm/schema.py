"""JSON Schema of scenario files: `python -m swarm.schema > swarm.schema.json`.

Editors (VS Code's YAML extension, for one) use it to complete and check scenario files as
they are typed. The `world` section depends on `scenario`, so the schema is a union of one
`RunConfig` per registered scenario, discriminated by the `scenario` field. Cross-field
checks (drones versus map cells, ...) are not expressible in JSON Schema: run
`python -m swarm.validate` for those.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter

__all__ = ["main", "run_config_schema"]


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


def main() -> int:
    """Print the schema as indented JSON; returns the exit code."""
    try:
        schema = run_config_schema()
    except Exception as err:  # print the reason, not a traceback
        print(f"swarm.schema: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    print(json.dumps(schema, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

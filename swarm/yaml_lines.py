"""YAML loading that remembers where every key and item came from.

Scenario authors get errors as `FILE:LINE: field.path: message`, so the loader records, for
every mapping key and sequence item, the 1-based line it starts on. Paths are tuples of keys
and list indices, the same shape as a pydantic error's `loc`: `("world", "size")` or
`("protocol", "topology", "edges", 2)`.

Two departures from PyYAML's YAML 1.1 defaults, both because authors expect them:
- `1e-4`, `1E5`, `.5e3` read as floats (YAML 1.1 wants a dot and a signed exponent, so
  PyYAML reads `1e-4` as the *string* "1e-4");
- a key given twice in one mapping is an error instead of the last one silently winning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["LineLoader", "YamlDoc", "YamlLoadError", "load_yaml", "parse_yaml"]

Loc = tuple[str | int, ...]

# YAML 1.2 core-schema floats that YAML 1.1 misses: an exponent without a dot or without a
# sign. Dotted forms are already floats under PyYAML's resolver; listing them again is harmless.
_FLOAT_12 = re.compile(
    r"""^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$""",
    re.VERBOSE,
)
_MERGE_TAG = "tag:yaml.org,2002:merge"


class LineLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that also reads YAML 1.2 exponent floats (`1e-4` is a float)."""


LineLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))


class YamlLoadError(Exception):
    """The file could not be read as YAML; `.errors` are `FILE[:LINE]: message` lines."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass
class YamlDoc:
    """A parsed YAML document with the line of every key and sequence item.

    `data` is the plain Python value (dicts, lists, scalars); `lines` maps a path to its
    1-based line; `path` is the file name used in messages.
    """

    path: str
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Loc) -> int:
        """Line of the longest prefix of `loc` found in the file (1 if none is).

        A missing field has no line of its own, so it reports the line of its parent
        section, which is where the author has to add it.
        """
        for end in range(len(loc), 0, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return min(self.lines.values(), default=1)


def _walk(node: yaml.Node, loc: Loc, doc: YamlDoc, errors: list[str], stack: set[int]) -> None:
    """Record lines below `node` (at path `loc`) and report duplicate keys into `errors`."""
    if id(node) in stack:  # a recursive alias: its lines are already recorded
        return
    stack = stack | {id(node)}
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        merged: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:  # `<<: *anchor`: its keys are defaults, walked below
                merged.extend(
                    value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                )
                continue
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                where = ".".join(str(p) for p in (*loc, key))
                errors.append(
                    f"{doc.path}:{line}: {where}: duplicate key '{key}' (first given at line "
                    f"{seen[key]}); keep only one"
                )
                continue
            seen[key] = line
            doc.lines[(*loc, key)] = line
            _walk(value_node, (*loc, key), doc, errors, stack)
        for source in merged:
            before = dict(doc.lines)
            _walk(source, loc, doc, [], stack)  # duplicates belong to the anchor's own mapping
            doc.lines.update(before)  # keys written here win over the merged defaults
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            doc.lines[(*loc, i)] = item.start_mark.line + 1
            _walk(item, (*loc, i), doc, errors, stack)


def _syntax_message(exc: yaml.MarkedYAMLError, path: str) -> str:
    """`FILE:LINE: YAML syntax error: ...` at the construct that is unfinished, if known.

    For an unclosed bracket or quote the problem is only noticed where the file ends, so
    the line where the construct started (the context) is the one to fix; the problem's
    line is added in parentheses.
    """
    first = exc.context_mark or exc.problem_mark
    line = f":{first.line + 1}" if first is not None else ""
    what = ": ".join(s for s in (exc.context, exc.problem) if s)
    if exc.context_mark and exc.problem_mark and exc.problem_mark.line != exc.context_mark.line:
        what += f" (at line {exc.problem_mark.line + 1})"
    return f"{path}{line}: YAML syntax error: {what}"


def parse_yaml(text: str, path: str = "<string>") -> YamlDoc:
    """Parse one YAML document from `text`; `path` is only used in messages.

    Raises `YamlLoadError` for a syntax error (with its line), several documents in one
    stream, or duplicate keys.
    """
    loader = LineLoader(text)
    try:
        node = loader.get_single_node()
        doc = YamlDoc(path=path, data=None)
        if node is None:
            return doc
        errors: list[str] = []
        _walk(node, (), doc, errors, set())
        if errors:
            raise YamlLoadError(errors)
        doc.data = loader.construct_document(node)
        return doc
    except yaml.MarkedYAMLError as exc:
        raise YamlLoadError([_syntax_message(exc, path)]) from None
    except yaml.YAMLError as exc:
        raise YamlLoadError([f"{path}: YAML error: {exc}"]) from None
    finally:
        loader.dispose()


def load_yaml(path: str | Path) -> YamlDoc:
    """Read and parse the YAML file at `path` (see `parse_yaml`).

    A missing or unreadable file raises `YamlLoadError` with one line that names it.
    """
    name = str(path)
    p = Path(path)
    if not p.exists():
        raise YamlLoadError(
            [f"{name}: file not found; check the path (scenario files live in scenarios/)"]
        )
    if p.is_dir():
        raise YamlLoadError([f"{name}: is a directory; give a .yaml file"])
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlLoadError([f"{name}: cannot read the file ({exc})"]) from None
    return parse_yaml(text, name)

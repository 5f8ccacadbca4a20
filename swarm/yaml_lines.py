"""YAML loading that remembers where every key and item came from.

Scenario authors get errors as `FILE:LINE: field.path: message`, so the loader records, for
every mapping key and sequence item, the 1-based line it starts on. Paths are tuples of keys
and list indices, the same shape as a pydantic error's `loc`: `("world", "size")` or
`("protocol", "topology", "edges", 2)`.

Scalars are read as YAML 1.2 (core schema), not PyYAML's YAML 1.1, because authors expect it:
- `1e-4`, `1E5`, `.5e3` are floats (YAML 1.1 wants a dot and a signed exponent, so PyYAML
  reads `1e-4` as the *string* "1e-4");
- no base 60: `1:20` is the string "1:20" (YAML 1.1 reads 80), and `010` is ten, not octal;
- only `true` / `false` are booleans: `yes`, `no`, `on`, `off`, `y`, `n` are strings (a field
  that wants a number or a boolean then rejects them; see `string_coercions`);
- no timestamps: `2024-05-06` is a string.

And three limits keep a hostile or broken file from hanging the loader, each a
`FILE:LINE: message` error: at most MAX_FILE_BYTES of text, MAX_DEPTH levels of nesting
(counted with aliases expanded), and MAX_NODES values with aliases expanded (an "alias bomb"
of 471 bytes expands to 10^7 values). Anchors, aliases and merge keys (`<<: *base`) otherwise
work as usual. A key given twice in one mapping is an error instead of the last one winning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "LineLoader",
    "YamlDoc",
    "YamlLoadError",
    "load_yaml",
    "parse_yaml",
    "string_coercions",
]

Loc = tuple[str | int, ...]

MAX_FILE_BYTES = 2**20
"""Largest scenario file read (1 MiB; the shipped ones are about 2 KB)."""
MAX_DEPTH = 32
"""Deepest nesting of mappings and lists (the config itself is 4 levels deep)."""
MAX_NODES = 200_000
"""Most values (keys' values, list items, scalars) a file may hold with aliases expanded."""

_MERGE_TAG = "tag:yaml.org,2002:merge"
_T = "tag:yaml.org,2002:"
# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution), ints before floats
_BOOL_12 = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT_12 = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT_12 = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


class LineLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` reading YAML 1.2 core-schema scalars (see the module docstring)."""


# PyYAML's YAML 1.1 bool/int/float/timestamp resolvers are dropped, the 1.2 ones added
LineLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in {_T + t for t in ("bool", "int",
                                                               "float", "timestamp")}]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}  # fmt: skip
LineLoader.add_implicit_resolver(_T + "bool", _BOOL_12, list("tTfF"))
LineLoader.add_implicit_resolver(_T + "int", _INT_12, list("-+0123456789"))
LineLoader.add_implicit_resolver(_T + "float", _FLOAT_12, list("-+0123456789."))


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    """YAML 1.2 ints: decimal (leading zeros allowed, no octal), `0o17`, `0x1F`."""
    text = str(loader.construct_scalar(node))
    if text[:2] in ("0o", "0x"):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text, 10)


LineLoader.add_constructor(_T + "int", _construct_int)


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


class _TooBig(Exception):
    """The walk crossed MAX_NODES or MAX_DEPTH at `line`."""

    def __init__(self, line: int, what: str) -> None:
        super().__init__(what)
        self.line, self.what = line, what


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expanded(root: yaml.Node) -> None:
    """_TooBig if the document, aliases expanded, holds more than MAX_NODES values or nests
    deeper than MAX_DEPTH. Each distinct node is counted once (memoised, iterative), so an
    alias bomb costs what its text costs; a recursive alias counts as one value."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    todo: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_: set[int] = set()
    while todo:
        node, done = todo.pop()
        key = id(node)
        if done:
            kids = [k for k in _children(node) if id(k) in size]
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0) if kids else 0
            open_.discard(key)
            line = node.start_mark.line + 1
            if size[key] > MAX_NODES:
                raise _TooBig(line, f"with aliases expanded the file holds more than "
                              f"{MAX_NODES} values; write the repeated section out once, or "
                              "use fewer aliases")  # fmt: skip
            if depth[key] > MAX_DEPTH:
                raise _TooBig(line, f"nested more than {MAX_DEPTH} levels deep (aliases "
                              "expanded); flatten it")  # fmt: skip
            continue
        if key in size or key in open_:  # counted already, or a recursive alias
            continue
        open_.add(key)
        todo.append((node, True))
        todo.extend((k, False) for k in _children(node) if id(k) not in size)


def _walk(
    node: yaml.Node,
    loc: Loc,
    doc: YamlDoc,
    errors: list[str],
    stack: set[int],
    budget: list[int],
) -> None:
    """Record lines below `node` (at path `loc`) and report duplicate keys into `errors`.

    budget: [values left]; aliased nodes are walked (and counted) once per use, so the walk
    costs what the expanded document would, and stops at MAX_NODES or MAX_DEPTH."""
    if id(node) in stack:  # a recursive alias: its lines are already recorded
        return
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooBig(
            node.start_mark.line + 1,
            f"with aliases expanded the file holds more than {MAX_NODES} values; write the "
            "repeated section out once, or use fewer aliases",
        )
    if len(loc) > MAX_DEPTH:
        raise _TooBig(
            node.start_mark.line + 1,
            f"nested more than {MAX_DEPTH} levels deep (aliases expanded); flatten it",
        )
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
            _walk(value_node, (*loc, key), doc, errors, stack, budget)
        for source in merged:
            before = dict(doc.lines)
            _walk(source, loc, doc, [], stack, budget)  # its duplicates are the anchor's own
            doc.lines.update(before)  # keys written here win over the merged defaults
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            doc.lines[(*loc, i)] = item.start_mark.line + 1
            _walk(item, (*loc, i), doc, errors, stack, budget)


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


def _check_shape(text: str, path: str) -> None:
    """Size and nesting depth of the text, before anything recursive sees it.

    PyYAML's composer and constructor recurse once per level, so a 500-level file would end
    in RecursionError; its parser is an iterative state machine, so the events are safe."""
    if len(text) > MAX_FILE_BYTES:
        line = text.count("\n", 0, MAX_FILE_BYTES) + 1
        raise YamlLoadError(
            [f"{path}:{line}: the file is longer than {MAX_FILE_BYTES} characters "
             f"(the limit is crossed on this line); a scenario file is a few KB"]
        )  # fmt: skip
    depth = 0
    for event in yaml.parse(text, Loader=LineLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1
                raise YamlLoadError(
                    [f"{path}:{line}: nested more than {MAX_DEPTH} levels deep; flatten it"]
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def parse_yaml(text: str, path: str = "<string>") -> YamlDoc:
    """Parse one YAML document from `text`; `path` is only used in messages.

    Raises `YamlLoadError` for a syntax error (with its line), several documents in one
    stream, duplicate keys, or a file over the limits (MAX_FILE_BYTES, MAX_DEPTH, MAX_NODES).
    """
    loader = LineLoader(text)
    try:
        _check_shape(text, path)
        node = loader.get_single_node()
        doc = YamlDoc(path=path, data=None)
        if node is None:
            return doc
        errors: list[str] = []
        try:
            _check_expanded(node)
            _walk(node, (), doc, errors, set(), [MAX_NODES])
        except _TooBig as big:
            raise YamlLoadError([f"{path}:{big.line}: {big.what}"]) from None
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
        with p.open(encoding="utf-8") as fh:  # never more than the limit (+1 to notice it)
            text = fh.read(MAX_FILE_BYTES + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlLoadError([f"{name}: cannot read the file ({exc})"]) from None
    return parse_yaml(text, name)


def string_coercions(given: Any, validated: Any, loc: Loc = ()) -> list[tuple[Loc, str, str]]:
    """Where a string in the file became a number or a boolean during validation.

    pydantic's lax mode turns `"yes"`, `"true"` or `"3"` into True or 3; scenario files are
    strict instead (YAML 1.2: `n_channels: yes` or `plots: "true"` is a mistake). `given` is
    the parsed file, `validated` the model's `model_dump()`, walked side by side; returns
    `(loc, string, type name)` for each coerced string.
    """
    if isinstance(given, str):
        if isinstance(validated, bool | int | float):
            return [(loc, given, type(validated).__name__)]
        return []
    out: list[tuple[Loc, str, str]] = []
    if isinstance(given, dict) and isinstance(validated, dict):
        for key, value in given.items():
            if key in validated:
                out += string_coercions(value, validated[key], (*loc, key))
    elif isinstance(given, list) and isinstance(validated, list | tuple):
        for i, (a, b) in enumerate(zip(given, validated, strict=False)):
            out += string_coercions(a, b, (*loc, i))
    return out

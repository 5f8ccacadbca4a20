"""Validation of a decoded header and manifest against docs/protocol.md (after the HMAC check).

Both functions take the msgpack-decoded object and return it when it matches the spec, or
raise ProtocolError("header" / "manifest") saying which field is wrong. Unknown header keys
are ignored (a newer minor version may add them); unknown body fields likewise.
"""

from __future__ import annotations

import math
from typing import Any

from protocols.compression import CODECS, PART_DTYPES
from protocols.messages import Kind, ProtocolError

__all__ = ["check_header", "check_manifest"]

MAX_ID = 2**63 - 1
MAX_NDIM = 8
KIND_VALUES = frozenset(int(k) for k in Kind)


def _is_int(v: Any, lo: int, hi: int = MAX_ID) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def check_header(h: Any, major: int, minor: int) -> dict[str, Any]:
    """The header map, with its required fields checked for type and range."""
    if not isinstance(h, dict):
        raise ProtocolError("header", "header must be a msgpack map")
    if h.get("v") != [major, minor]:
        raise ProtocolError("header", f"header v {h.get('v')!r} differs from frame 0")
    if not _is_int(h.get("kind"), 1) or h["kind"] not in KIND_VALUES:
        raise ProtocolError("header", f"unknown kind {h.get('kind')!r}")
    for name, lo in (("from", 0), ("to", -1), ("seq", 1), ("round", 0), ("term", 0)):
        if not _is_int(h.get(name), lo):
            raise ProtocolError("header", f"{name} must be an int >= {lo}, got {h.get(name)!r}")
    if not isinstance(h.get("run"), str) or len(h["run"]) > 256:
        raise ProtocolError("header", "run must be a string of at most 256 characters")
    ts = h.get("ts")
    if not isinstance(ts, float | int) or isinstance(ts, bool) or not math.isfinite(ts):
        raise ProtocolError("header", "ts must be a finite number (seconds since the epoch)")
    if not isinstance(h.get("body"), dict):
        raise ProtocolError("header", "body must be a map")
    return h


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _check_entry(e: Any) -> tuple[dict[str, Any], int]:
    """One manifest entry and its number of dense elements.

    Every field's type is checked before its value is used (a list where a string belongs
    must be a `manifest` reject, not an unhashable-type crash in a set lookup)."""
    if not isinstance(e, dict):
        raise ProtocolError("manifest", "each manifest entry must be a map")
    name, codec = e.get("name"), e.get("codec")
    if not _is_str(name) or not _is_str(codec) or codec not in CODECS:
        raise ProtocolError("manifest", f"bad name or codec in {str(e)[:80]}")
    shape = e.get("shape")
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_NDIM
        or not all(_is_int(s, 0) for s in shape)
    ):
        raise ProtocolError("manifest", f"{name}: shape must be <= {MAX_NDIM} ints >= 0")
    meta = e.get("meta")
    if not isinstance(meta, dict) or not all(
        _is_str(k) and isinstance(v, int | float) and not isinstance(v, bool)
        for k, v in meta.items()
    ):
        raise ProtocolError("manifest", f"{name}: meta must map str to numbers")
    parts = e.get("parts")
    if not isinstance(parts, list) or not all(
        isinstance(p, list)
        and len(p) == 3
        and _is_str(p[0])
        and _is_str(p[1])
        and p[1] in PART_DTYPES
        and _is_int(p[2], 0)
        for p in parts
    ):
        raise ProtocolError("manifest", f"{name}: parts must be [name, dtype, nbytes]")
    return e, math.prod(shape)


def check_manifest(m: Any, buffers: list[memoryview], max_elements: int) -> list[dict[str, Any]]:
    """The manifest entries, checked against the buffer frames that follow it."""
    if not isinstance(m, list):
        raise ProtocolError("manifest", "manifest must be a msgpack array")
    entries, elements, names = [], 0, set()
    for raw in m:
        e, n = _check_entry(raw)
        elements += n
        if elements > max_elements:
            raise ProtocolError("oversize", f"more than {max_elements} dense elements")
        if e["name"] in names:  # decoded arrays are keyed by name: a second one would hide
            raise ProtocolError("manifest", f"tensor name {e['name']!r} appears twice")
        names.add(e["name"])
        entries.append(e)
    sizes = [p[2] for e in entries for p in e["parts"]]
    if len(sizes) != len(buffers):
        raise ProtocolError("manifest", f"{len(sizes)} parts listed, {len(buffers)} buffers sent")
    for i, (size, buf) in enumerate(zip(sizes, buffers, strict=True)):
        if size != buf.nbytes:
            raise ProtocolError("manifest", f"buffer {i}: {buf.nbytes} bytes, manifest says {size}")
    return entries

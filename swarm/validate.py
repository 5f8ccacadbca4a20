"""Check scenario files without running them: `python -m swarm.validate FILE.yaml...`.

Prints `FILE: ok` for each valid file, or one `FILE:LINE: field.path: message` line per
problem, and exits 0 when every file is valid, 1 otherwise. A study file (one with a `sweep:`
section, `swarm.sweep`) is checked as its sweep section plus every point it expands to. It
never prints a traceback: a scenario author needs the line to fix, not the validator's call
stack.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["check_file", "main"]


def check_file(path: str) -> list[str]:
    """Problems of the scenario file at `path` as message lines; empty when it is valid."""
    from swarm.config import ConfigError, load_config
    from swarm.sweep import is_study, load_study

    try:
        if is_study(path):
            load_study(Path(path), [])
        else:
            load_config(path)
    except ConfigError as err:
        return list(err.errors)
    except Exception as err:  # a bug in a scenario's check must not hide the other files
        return [f"{path}: could not be checked: {type(err).__name__}: {err}"]
    return []


def main(argv: list[str] | None = None) -> int:
    """Validate each file named in `argv` (default: the command line); returns the exit code."""
    paths = sys.argv[1:] if argv is None else argv
    if not paths or any(p in ("-h", "--help") for p in paths):
        print("usage: python -m swarm.validate FILE.yaml [FILE.yaml ...]")
        return 0 if paths else 2
    failed = False
    for path in paths:
        problems = check_file(path)
        failed = failed or bool(problems)
        print("\n".join(problems) if problems else f"{path}: ok", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

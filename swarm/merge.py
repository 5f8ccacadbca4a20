"""One scorecard from several run folders: a run split across invocations or machines.

    python -m swarm.merge OUT RUN_DIR [RUN_DIR ...] [--reference TEAM]

A long scorecard can be flown as several invocations side by side: seeds 0-9 in one and
10-19 in another (`seeds: [10, ..., 19]`, or on another machine), a slow team on its own
(`--teams single_large_budget`). That is sound because a team x seed run depends only on the
resolved config, the team and the seed, not on which other teams or seeds share the
invocation nor on the number of hosts or Ray vs in-process (the host-count invariance tests,
tests/swarm/test_pool.py). `merge_documents` takes the union and refuses what would not be
one experiment:

- the folders' resolved configs must agree everywhere except `IGNORED` (which seeds and teams
  were flown, the reference team, where outputs and hosts went): else `MergeError` names the
  paths that differ;
- a team x seed found in several folders must have identical metrics (NaN equals NaN): else
  `MergeError` names it (the folders did not fly the same code or file). Identical duplicates
  are a free reproducibility check; the first folder's record is kept.

OUT receives results.json (teams in the order they first appear; every team entry and the
paired comparison recomputed over the union, `swarm.outputs.team_entry`,
`swarm.scorecard.comparison`; `merged_from` lists each folder with its status and run count;
`status` is "complete" when every team has every seed, else "interrupted"), ticks.csv (each
kept run's rows from the folder its record came from), and the plots. OUT must not hold a run.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from swarm.outputs import (
    RUN_FILES,
    atomic_write_json,
    config_differences,
    team_entry,
)
from swarm.scorecard import comparison

__all__ = ["IGNORED", "MergeError", "main", "merge_documents", "merge_folders"]

# Config sections that may differ between the merged folders: what was flown, and where.
IGNORED = ("seeds", "teams", "reference", "output", "hosts", "ray")


class MergeError(ValueError):
    """The folders are not parts of one experiment (the message says why and what to do)."""


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _same_metrics(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)


def merge_documents(
    docs: Sequence[Mapping[str, Any]], names: Sequence[str], reference: str | None = None
) -> tuple[dict[str, Any], dict[tuple[str, int], int]]:
    """The union of results.json documents `docs` (read from folders `names`).

    Returns (the merged document, {(team, seed): index of the document its record came
    from}). Raises `MergeError` on configs that differ outside `IGNORED` or on a team x seed
    whose metrics differ between documents.
    """
    if not docs:
        raise MergeError("nothing to merge: name at least one run folder")
    first = docs[0]
    for doc, name in zip(docs[1:], names[1:], strict=True):
        if doc.get("scenario") != first.get("scenario"):
            raise MergeError(
                f"{name} is a {doc.get('scenario')!r} run, {names[0]} a "
                f"{first.get('scenario')!r} run: merge runs of one scenario only"
            )
        differ = [
            p
            for p in config_differences(first.get("config", {}), doc.get("config", {}))
            if p.split(".")[0] not in IGNORED
        ]
        if differ:
            raise MergeError(
                f"{name}'s config differs from {names[0]}'s at {', '.join(differ)}: only runs "
                f"of the same file (differing only in {', '.join(IGNORED)}) make one scorecard"
            )
    runs: dict[str, dict[int, dict[str, Any]]] = {}
    source: dict[tuple[str, int], int] = {}
    for i, doc in enumerate(docs):
        for team, entry in doc.get("teams", {}).items():
            for run in entry.get("runs", []):
                seed = int(run["seed"])
                kept = runs.setdefault(team, {}).get(seed)
                if kept is None:
                    runs[team][seed] = run
                    source[(team, seed)] = i
                elif not _same_metrics(kept.get("metrics", {}), run.get("metrics", {})):
                    raise MergeError(
                        f"{team} seed {seed} differs between {names[source[(team, seed)]]} "
                        f"and {names[i]}: the folders did not fly the same code or file; "
                        "rerun one of them from the same commit"
                    )
    teams = {t: team_entry([runs[t][s] for s in sorted(runs[t])]) for t in runs}
    seeds = sorted({s for by_seed in runs.values() for s in by_seed})
    full = all(set(by_seed) == set(seeds) for by_seed in runs.values())
    ref = reference if reference is not None else first.get("comparison", {}).get("reference")
    if ref is not None and ref not in teams:
        raise MergeError(
            f"reference team {ref!r} is in none of the folders; pick one of {list(teams)}"
        )
    doc = {
        **{k: v for k, v in first.items() if k not in ("teams", "comparison")},
        "seeds": seeds,
        "teams_order": list(teams),
        "status": "complete" if full else "interrupted",
        "error": None if full else "merged folders do not cover every team x seed",
        "teams": teams,
        "comparison": comparison(teams, ref),
        "merged_from": [
            {
                "dir": name,
                "status": d.get("status"),
                "runs": sum(len(e.get("runs", [])) for e in d.get("teams", {}).values()),
            }
            for d, name in zip(docs, names, strict=True)
        ],
    }
    return doc, source


def _merge_ticks(folders: Sequence[Path], source: Mapping[tuple[str, int], int], out: Path) -> None:
    """ticks.csv of OUT: each kept run's rows, from the folder its record came from."""
    fields: list[str] = []
    rows: list[dict[str, str]] = []
    for i, folder in enumerate(folders):
        path = folder / "ticks.csv"
        if not path.exists():
            continue
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            fields += [f for f in reader.fieldnames or [] if f not in fields]
            rows += [r for r in reader if source.get((r["team"], int(r["seed"]))) == i]
    if fields:
        with (out / "ticks.csv").open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fields, restval="")
            writer.writeheader()
            writer.writerows(rows)


def merge_folders(out: Path, folders: Sequence[Path], reference: str | None = None) -> dict:
    """Merge run `folders` into the new folder `out` (module docstring); returns the document."""
    out = Path(out)
    if out.exists() and any((out / f).exists() for f in RUN_FILES):
        raise MergeError(f"{out} already holds a run; choose a new folder for the merge")
    docs = []
    for folder in folders:
        path = Path(folder) / "results.json"
        if not path.exists():
            raise MergeError(f"{folder} has no results.json: name run folders (--out of swarm.run)")
        docs.append(json.loads(path.read_text()))
    doc, source = merge_documents(docs, [str(f) for f in folders], reference)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "results.json", doc)
    _merge_ticks([Path(f) for f in folders], source, out)
    if doc["config"].get("output", {}).get("plots", True):
        from swarm.plots import make_plots  # matplotlib only when plotting

        make_plots(out, doc)
    return doc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m swarm.merge", description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path, help="new folder for the merged scorecard")
    ap.add_argument("folders", type=Path, nargs="+", help="run folders of one scenario file")
    ap.add_argument(
        "--reference", help="team the others are compared with (default: the first folder's)"
    )
    args = ap.parse_args(argv)
    try:
        doc = merge_folders(args.out, args.folders, args.reference)
    except MergeError as err:
        print(f"cannot merge: {err}", file=sys.stderr)
        return 2
    from rich.console import Console

    from swarm.scorecard import table

    Console(width=200).print(table(doc))
    counts = {t: len(e["runs"]) for t, e in doc["teams"].items()}
    print(f"merged {len(args.folders)} folders into {args.out}: {counts}, status {doc['status']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

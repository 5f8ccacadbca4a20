"""The docs stay true to the tree: no pointer outside the repo, every module mapped, every
`docs/...` reference to a page (and an `architecture.md §N` to a section) that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("agents", "protocols", "scenarios", "swarm")
SOURCES = [
    p
    for folder in (*PACKAGES, "bench", "docs", "tests")
    for p in sorted((ROOT / folder).rglob("*"))
    if p.suffix in (".py", ".md", ".yaml") and "__pycache__" not in p.parts
] + [ROOT / "README.md", ROOT / "pyproject.toml"]
# Written in two parts so that this file does not match itself.
OUTSIDE = re.compile("|".join([r"\.\./" + "shared", "DESIGN" + r"(\.md| §)"]))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_points_outside_the_repo(path: Path) -> None:
    hits = [n for n, line in enumerate(path.read_text().splitlines(), 1) if OUTSIDE.search(line)]
    assert hits == [], f"{path.relative_to(ROOT)} lines {hits} point outside the repository"


def test_module_map_names_every_module() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text[text.index("## Module map") : text.index("## One tick")]
    mapped, package = set(), None
    for row in section.splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("**`"):
            package = cells[0].strip("*`/")
        elif len(cells) == 4 and cells[1].startswith("`") and package:
            mapped.add(f"{package}/{cells[1].strip('`')}")
    present = {f"{p}/{f.name}" for p in PACKAGES for f in (ROOT / p).glob("*.py")}
    missing, stale = sorted(present - mapped), sorted(mapped - present)
    assert not missing and not stale, f"docs/architecture.md map: add {missing}, drop {stale}"


def test_doc_references_resolve() -> None:
    pages = {p.name for p in (ROOT / "docs").glob("*.md")}
    sections = set(
        re.findall(r"^## (\d+)\.", (ROOT / "docs" / "architecture.md").read_text(), re.M)
    )
    for path in SOURCES:
        text = path.read_text()
        for page in re.findall(r"docs/([\w-]+\.md)", text):
            assert page in pages, f"{path.relative_to(ROOT)} names docs/{page}, which is missing"
        for first, last in re.findall(r"architecture\.md §(\d+)(?:[–-](\d+))?", text):
            for number in {first, last or first}:
                assert number in sections, f"{path.relative_to(ROOT)}: architecture.md §{number}"

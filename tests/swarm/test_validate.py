"""`python -m swarm.validate`: ok lines, FILE:LINE errors, exit codes, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from swarm.validate import check_file, main

ROOT = Path(__file__).resolve().parents[2]
GOOD = "scenario: drone_search\ndrones: 4\nworld: {height: 16, width: 16, max_alt_m: 60.0}\n"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    texts = {
        "good": GOOD,
        "typo": GOOD + "dornes: 3\n",
        "negative": GOOD.replace("height: 16", "height: -4"),
        "crowded": GOOD.replace("drones: 4", "drones: 999"),
        "footprint": GOOD.replace("max_alt_m: 60.0", "max_alt_m: 120.0").replace(": 16", ": 9"),
        "malformed": "scenario: drone_search\nworld: {height: 16\n",
    }
    out = {}
    for name, text in texts.items():
        out[name] = tmp_path / f"{name}.yaml"
        out[name].write_text(text)
    out["missing"] = tmp_path / "missing.yaml"
    return out


def test_valid_file_prints_ok(files: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    assert main([str(files["good"])]) == 0
    assert capsys.readouterr().out == f"{files['good']}: ok\n"


@pytest.mark.parametrize(
    ("name", "line", "field"),
    [
        ("typo", 4, "dornes"),
        ("negative", 3, "world.height"),
        ("crowded", 2, "drones"),
        ("footprint", 3, "world.max_alt_m"),
        ("malformed", 2, None),
    ],
)
def test_bad_file_gives_file_line_field(
    files: dict[str, Path], capsys: pytest.CaptureFixture, name: str, line: int, field: str | None
) -> None:
    assert main([str(files[name])]) == 1
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    prefix = f"{files[name]}:{line}: " + (f"{field}: " if field else "")
    assert first.startswith(prefix), out
    assert "Traceback" not in out


def test_missing_file(files: dict[str, Path]) -> None:
    (line,) = check_file(str(files["missing"]))
    assert (
        line
        == f"{files['missing']}: file not found; check the path (scenario files live in scenarios/)"
    )


def test_cli_subprocess_shipped_and_bad_files(files: dict[str, Path]) -> None:
    """One real process over the shipped files, then good, misspelled, malformed, missing."""
    shipped = sorted(str(p) for p in (ROOT / "scenarios").glob("**/*.yaml"))  # studies too
    names = ["good", "typo", "malformed", "missing"]
    proc = subprocess.run(
        [sys.executable, "-m", "swarm.validate", *shipped, *(str(files[n]) for n in names)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[: len(shipped)] == [f"{p}: ok" for p in shipped]
    lines = lines[len(shipped) :]
    assert lines[0] == f"{files['good']}: ok"
    assert lines[1].startswith(f"{files['typo']}:4: dornes: unknown field 'dornes'")
    assert "did you mean 'drones'?" in lines[1]
    assert lines[2].startswith(f"{files['malformed']}:2: YAML syntax error")
    assert lines[3].startswith(f"{files['missing']}: file not found")
    assert "Traceback" not in proc.stdout + proc.stderr


def test_no_arguments_prints_usage(capsys: pytest.CaptureFixture) -> None:
    assert main([]) == 2
    assert "usage" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("edit", "field", "wanted"),
    [
        ("learner: {learn_every: 1:20}", "learner.learn_every", "1:20"),  # YAML 1.1: 80
        ("model: {small: {n_channels: yes}}", "model.small.n_channels", "yes"),  # YAML 1.1: 1
        ('output: {plots: "true"}', "output.plots", "expected a bool"),
        ("output: {plots: no}", "output.plots", "expected a bool"),
        ('drones: "4"', "drones", "expected a int"),
    ],
)
def test_strict_yaml_12_types(tmp_path: Path, edit: str, field: str, wanted: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(GOOD.replace("drones: 4\n", "") + ("" if "drones" in edit else "drones: 4\n")
                    + edit + "\n")  # fmt: skip
    (line,) = check_file(str(path))
    assert line.startswith(f"{path}:") and f": {field}: " in line and wanted in line


def test_seed_count_has_a_documented_maximum(tmp_path: Path) -> None:
    from swarm.config import MAX_SEEDS

    for seeds in (MAX_SEEDS + 1, 1_000_000_000):
        path = tmp_path / "many.yaml"
        path.write_text(GOOD + f"seeds: {seeds}\n")
        (line,) = check_file(str(path))
        assert line == f"{path}:4: seeds: a seed count must be in 1..{MAX_SEEDS} (got {seeds})"
    path.write_text(GOOD + "seeds: [" + ", ".join(map(str, range(MAX_SEEDS + 1))) + "]\n")
    (line,) = check_file(str(path))
    assert f"at most {MAX_SEEDS} seeds" in line
    path.write_text(GOOD + f"seeds: {MAX_SEEDS}\n")  # the maximum itself is fine (and linear)
    assert check_file(str(path)) == []


@pytest.mark.parametrize(
    ("edit", "where", "wanted"),
    [
        ("model: {small: {d_model: 100000}}", "model.small.d_model", "less than or equal"),
        ("model: {small: {d_model: 4096, n_layers: 8}}", "model.small", "more than the limit"),
        ("world: {height: 16, width: 16, cell_m: 1.0e-300}", "world.cell_m", "0.1"),
        ("drones: 4000\nworld: {height: 4096, width: 4096}", "drones", "belief cells"),
        ("drones: 400\nmodel: {small: {d_model: 1024}}", "drones", "brains x"),
        (
            "teams: [single_large]\nmodel: {small: {d_model: 16}, large: {d_model: 8192, "
            "n_layers: 256}}",
            "model.large",
            "more than the limit",
        ),
    ],
)
def test_sizes_that_cannot_run_are_refused_with_the_limit(tmp_path, edit, where, wanted):
    path = tmp_path / "big.yaml"
    path.write_text("scenario: drone_search\n" + edit + "\n")
    problems = check_file(str(path))
    assert any(f": {where}: " in p and wanted in p for p in problems), problems

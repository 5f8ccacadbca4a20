"""The replay viewer in a real browser: serve a recorded smoke run, drive headless Chromium.

Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them) and Selenium (dev
extra); skipped, saying so, when either is missing. Nothing downloads a browser. The page
exposes what it draws as SVG elements with data attributes (`swarm.view_svg`), so the test
counts drones and edges without reading pixels. Screenshots go to `$SWARM_VIEW_SHOTS` when
set (else the test's temporary folder).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from swarm.trajectory import load
from swarm.view import free_port, serve_command
from tests.swarm.recorded_runs import PATROL, PATROL_SMALL, record_missions

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (dev extra)")
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (BROWSER and DRIVER),
    reason="no headless browser: install Debian's chromium and chromium-driver "
    "(apt-get install -y chromium chromium-driver), as .ci/run does",
)


def _serve(run_dir: Path):
    port = free_port()
    env = {**os.environ, "SWARM_VIEW_RUN": str(run_dir)}
    proc = subprocess.Popen(
        serve_command(port), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"viewer exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(1)
    proc.terminate()
    raise RuntimeError("viewer did not answer within 180 s")


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = BROWSER
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1300,1500"):  # fmt: skip
        opts.add_argument(arg)
    drv = webdriver.Chrome(service=Service(DRIVER), options=opts)
    yield drv
    drv.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    out = Path(os.environ.get("SWARM_VIEW_SHOTS") or tmp_path_factory.mktemp("shots"))
    out.mkdir(parents=True, exist_ok=True)
    return out


_STATE_JS = """
const svg = document.querySelector('svg.mission-map[data-team="' + arguments[0] + '"]');
if (!svg) return null;
const d = [...svg.querySelectorAll('circle.drone')].map(
    e => [+e.dataset.drone, +e.dataset.row, +e.dataset.col]);
const e = [...svg.querySelectorAll('line.edge')].map(
    e => [+e.dataset.src, +e.dataset.dst, e.dataset.kind]);
return {tick: +svg.dataset.tick, round: +svg.dataset.round, drones: d, edges: e,
        n: +svg.dataset.drones};
"""


def _teams(drv, timeout: float = 90.0) -> list[str]:
    """The teams whose maps the page shows (waits for the first map)."""
    js = "return [...document.querySelectorAll('svg.mission-map')].map(s => s.dataset.team)"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        teams = drv.execute_script(js)
        if teams:
            return sorted(teams)
        time.sleep(0.3)
    raise AssertionError(f"no map on the page within {timeout} s")


def _state(drv, team: str, tick: int, timeout: float = 60.0) -> dict:
    """What `team`'s map shows once it shows tick `tick`, read in one go (the map is
    replaced on every tick): tick, round, drones (i, row, col), edges (src, dst, kind)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = drv.execute_script(_STATE_JS, team)
        if st and st["tick"] == tick:
            st["pos"] = np.array([p[1:] for p in sorted(st["drones"])])
            st["edges"] = sorted(tuple(x) for x in st["edges"])
            return st
        time.sleep(0.3)
    raise AssertionError(f"{team} map never showed tick {tick}")


def _scrub(drv, steps: int) -> None:
    """Move the tick slider (the scrubber) `steps` ticks right with the keyboard."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    sliders = drv.find_elements(By.CSS_SELECTOR, '[role=slider][aria-label^="tick"]')
    assert sliders, "no tick slider on the page"
    drv.execute_script("arguments[0].focus()", sliders[0])  # the thumb itself has no size
    thumb = drv.switch_to.active_element
    thumb.send_keys(Keys.HOME)
    for _ in range(steps):
        thumb.send_keys(Keys.ARROW_RIGHT)


def test_search_replay_shows_drones_moves_them_and_draws_the_rounds_edges(
    tmp_path_factory, browser, shots
):
    from protocols.messages import Kind

    run = tmp_path_factory.mktemp("search-run")
    runs = record_missions(run, ["swarm", "central"])
    swarm = load(runs["swarm"][1])
    proc, url = _serve(run)
    try:
        browser.get(url)
        assert _teams(browser) == ["central", "swarm"]
        start = _state(browser, "swarm", 0)
        assert start["n"] == 4 and len(start["drones"]) == 4
        np.testing.assert_array_equal(start["pos"], swarm["pos"][0])
        assert start["edges"] == []  # no round before the first sync
        t = 10  # after round 1 (sync_every 5)
        _scrub(browser, t)
        later = _state(browser, "swarm", t)
        np.testing.assert_array_equal(later["pos"], swarm["pos"][t])
        assert (later["pos"] != swarm["pos"][0]).any()  # the drones moved with the scrubber
        e = swarm.edges_at(t)
        want = sorted(zip(e["src"].tolist(), e["dst"].tolist(),
                          [Kind(k).name for k in e["kind"].tolist()], strict=True))  # fmt: skip
        assert want and later["edges"] == want
        assert later["round"] == swarm.round_at(t)
        central = _state(browser, "central", t)
        assert {s for s, _, _ in central["edges"]} == {0, 1, 2, 3}  # uploads to the centre
        browser.save_screenshot(str(shots / "drone_search_replay.png"))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_patrol_replay_shows_its_drones(tmp_path_factory, browser, shots):
    run = tmp_path_factory.mktemp("patrol-run")
    runs = record_missions(run, ["swarm", "isolated"], PATROL_SMALL, scenario=PATROL)
    proc, url = _serve(run)
    try:
        browser.get(url)
        assert _teams(browser) == ["isolated", "swarm"]
        assert _state(browser, "swarm", 0)["n"] == 4
        _scrub(browser, 20)
        st = _state(browser, "swarm", 20)
        np.testing.assert_array_equal(st["pos"], load(runs["swarm"][1])["pos"][20])
        browser.save_screenshot(str(shots / "litter_patrol_replay.png"))
    finally:
        proc.terminate()
        proc.wait(timeout=30)

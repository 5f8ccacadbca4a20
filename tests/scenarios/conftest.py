"""Small worlds for fast scenario tests."""

import pytest

from scenarios.drone_search import Config as SearchConfig
from scenarios.litter_patrol import Config as PatrolConfig


@pytest.fixture
def search_cfg() -> SearchConfig:
    return SearchConfig(height=32, width=32, horizon=120, probe_size=60)


@pytest.fixture
def patrol_cfg() -> PatrolConfig:
    return PatrolConfig(height=32, width=32, horizon=300, zone_cells=6, n_bins=6)

"""The typed public info: what each world tells brains and policies, checked and frozen."""

import dataclasses

import numpy as np
import pytest

from scenarios.drone_search import DroneSearch
from scenarios.info import PatrolInfo, SearchInfo, WorldKind
from scenarios.litter_patrol import LitterPatrol
from scenarios.patrol_policies import CyclicTour


def test_worlds_give_their_kind_of_info(search_cfg, patrol_cfg):
    search = DroneSearch(search_cfg, 2, seed=0).public_info()
    patrol = LitterPatrol(patrol_cfg, 2, seed=0).public_info()
    assert type(search) is SearchInfo and search.kind is WorldKind.SEARCH
    assert type(patrol) is PatrolInfo and patrol.kind is WorldKind.PATROL
    assert search.shape == (search_cfg.height, search_cfg.width) == search.prior.shape
    assert patrol.stations.shape[1] == 2 and patrol.poi.shape == patrol.shape
    with pytest.raises(dataclasses.FrozenInstanceError):
        search.fov_deg = 90.0


def test_a_map_of_the_wrong_shape_is_refused(search_cfg):
    info = DroneSearch(search_cfg, 2, seed=0).public_info()
    with pytest.raises(ValueError, match=r"SearchInfo.prior must be an \(H, W\)"):
        dataclasses.replace(info, prior=np.zeros((3, 3), np.float32))


def test_a_policy_refuses_the_other_kind_of_info(search_cfg):
    info = DroneSearch(search_cfg, 2, seed=0).public_info()
    with pytest.raises(TypeError, match="CyclicTour reads a PatrolInfo, got SearchInfo"):
        CyclicTour(info, np.arange(2), np.random.default_rng(0))

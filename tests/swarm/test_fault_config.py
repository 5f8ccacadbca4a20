"""The `faults:` section: what it refuses, with the line of the field to fix."""

import pytest
from pydantic import ValidationError

from swarm.config import ConfigError, load_config
from swarm.fault_config import FaultsConfig


def test_faults_config_refuses_impossible_settings(tiny_cfg):
    with pytest.raises(ValidationError, match="at most 1"):
        FaultsConfig(loss=0.7, delay=0.5)
    with pytest.raises(ValidationError, match="two groups"):
        FaultsConfig(partitions=[{"groups": [[0, 1], [1, 2]]}])
    with pytest.raises(ValidationError, match="after start"):
        FaultsConfig(partitions=[{"start": 5, "end": 5, "groups": [[0]]}])
    with pytest.raises(ValidationError, match="not both"):
        FaultsConfig(byzantine={"drones": [1], "fraction": 0.1})
    with pytest.raises(ValidationError, match=r"drones \[9\] do not exist"):
        tiny_cfg(drones=4, faults={"crashes": [{"drone": 9, "tick": 3}]})
    with pytest.raises(ValidationError, match="no hub to crash"):
        tiny_cfg(drones=4, faults={"hub_crash": 10})  # tiny_cfg flies a ring
    assert not FaultsConfig().active and FaultsConfig(loss=0.1).active


def test_a_bad_fault_names_its_file_line(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("scenario: drone_search\ndrones: 4\nfaults:\n  byzantine:\n    attack: shout\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    (line,) = err.value.errors
    assert line.startswith(f"{path}:5: faults.byzantine.attack:") and "alie" in line

"""agents: the Yan-style brain (MCSD mixer, selective FFN), its online learner and the
batched `BrainBank` of K brains (docs/architecture.md §3). No Ray, no Mesa."""

from agents.bank import BrainBank
from agents.config import LearnerConfig, YanConfig, count_params, scaled
from agents.yan import YanModel

__all__ = ["BrainBank", "LearnerConfig", "YanConfig", "YanModel", "count_params", "scaled"]

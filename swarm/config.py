"""One run's configuration: the scenario YAML composed from each package's own config.

`RunConfig` holds what `python -m swarm.run FILE.yaml` needs: which world (`scenario`, its
`world` section validated by `REGISTRY[scenario].Config`), how many drones and seeds, the
brains' models and learner (`agents.config`), the knowledge protocol (`protocols.config`),
which teams to score, and where Ray hosts and outputs go. `load_config` reads a file into
it, raising `ConfigError` with `FILE:LINE: field.path: message` lines (YAML and line map in
`swarm.yaml_lines`, message wording in `swarm.config_errors`, cross checks in
`swarm.config_checks`).

`RunConfig.model_validate(data)` picks the scenario's concrete subclass (`world` typed as that
scenario's `Config`), then runs the cross-field checks that need several sections at once
(`cross_problems`: the scenario's `check`, topology versus drone count, policy); each is a
`ConfigProblem` with a `loc`, raised like any other field error. A concrete subclass's own
`model_validate` skips those checks.
"""

from __future__ import annotations

import collections
import copy
import difflib
import functools
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    Tag,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from agents.config import LearnerConfig, YanConfig, scaled
from protocols.config import ProtocolConfig
from swarm.config_checks import (
    ConfigProblem,
    policy_problems,
    registry,
    size_problems,
    topology_problems,
    world_problems,
)
from swarm.config_errors import AUTO_TAG, VALUE_TAG, format_errors
from swarm.fault_config import FaultsConfig, fault_problems
from swarm.teams import LARGE_TEAMS, TEAMS
from swarm.variants import TeamVariant, resolve, variant_problems
from swarm.yaml_lines import Loc, YamlDoc, YamlLoadError, load_yaml, string_coercions

__all__ = [
    "TEAMS",
    "ConfigError",
    "HostsConfig",
    "ModelsConfig",
    "OutputConfig",
    "PolicyConfig",
    "RayConfig",
    "RunConfig",
    "config_of",
    "load_config",
    "run_config_class",
]


def _auto_or_value(v: Any) -> str:
    return AUTO_TAG if isinstance(v, str) else VALUE_TAG


def _or_auto(value_type: Any) -> Any:
    """`value_type | "auto"`, discriminated so that a bad value reports one error, not two."""
    return Annotated[
        Annotated[value_type, Tag(VALUE_TAG)] | Annotated[Literal["auto"], Tag(AUTO_TAG)],
        Discriminator(_auto_or_value),
    ]


MAX_SEEDS = 10_000
"""Most seeds one run may list: each is a full mission per team, so more never finishes."""


def _seed_count(v: Any) -> Any:
    """`seeds: n` means seeds 0..n-1; a list is kept as given (at most MAX_SEEDS either way)."""
    if isinstance(v, bool):
        raise ValueError("give a seed count (3) or a list of seeds ([0, 7, 42]), not true/false")
    if isinstance(v, int):
        if not 1 <= v <= MAX_SEEDS:
            raise ValueError(f"a seed count must be in 1..{MAX_SEEDS}")
        return list(range(v))
    if isinstance(v, list) and len(v) > MAX_SEEDS:
        raise ValueError(f"at most {MAX_SEEDS} seeds, got a list of {len(v)}")
    return v


def _unique(v: list[Any]) -> list[Any]:
    counts = collections.Counter(map(str, v))  # linear: a long seed list must not take minutes
    dupes = sorted(k for k, n in counts.items() if n > 1)
    if dupes:
        raise ValueError(f"each entry may appear once; repeated: {', '.join(dupes)}")
    return v


def _port_range(v: Any) -> Any:
    """`7000` or `7000-7007` (or `[7000, 7007]`, as a resolved config writes it) -> (lo, hi)."""
    if v is None:
        return v
    if isinstance(v, bool):
        raise ValueError("give a port (7000) or a range (7000-7007), not true/false")
    if isinstance(v, int):
        v = (v, v)
    elif isinstance(v, str):
        lo, sep, hi = v.partition("-")
        if not (lo.strip().isdigit() and (not sep or hi.strip().isdigit())):
            raise ValueError(f"give a port (7000) or a range (7000-7007), got {v!r}")
        v = (int(lo), int(hi if sep else lo))
    if isinstance(v, list | tuple) and len(v) == 2 and all(type(p) is int for p in v):
        lo, hi = v
        if lo > hi:
            raise ValueError(f"a range goes from low to high: {hi}-{lo}, not {lo}-{hi}")
        if lo < 1024 or hi > 65535:  # below 1024 only root may bind
            raise ValueError(f"ports must lie in 1024..65535, got {lo}-{hi}")
        return (lo, hi)
    raise ValueError(f"give a port (7000) or a range (7000-7007), got {v!r}")


def _one_resource_set(v: Any) -> Any:
    """A single `{name: amount}` mapping applies to every host."""
    return [v] if isinstance(v, dict) else v


Seeds = Annotated[
    list[NonNegativeInt],
    BeforeValidator(_seed_count, json_schema_input_type=PositiveInt | list[NonNegativeInt]),
    AfterValidator(_unique),
    Field(min_length=1),
]
PortRange = Annotated[
    tuple[int, int] | None,
    BeforeValidator(_port_range, json_schema_input_type=int | str | None),
]
Resources = Annotated[
    list[dict[str, Annotated[float, Field(ge=0)]]],
    BeforeValidator(
        _one_resource_set,
        json_schema_input_type=dict[str, float] | list[dict[str, float]],
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PolicyConfig(_Strict):
    """The movement policy the brains fly with (`scenarios.policies.make_policy`)."""

    name: str | None = Field(
        None, description="policy name; empty: the scenario's default (belief_greedy, ...)"
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="keyword arguments passed to the policy"
    )


class ModelsConfig(_Strict):
    """Model sizes: `small` for each drone's brain, `large` for the one-drone teams and central."""

    small: YanConfig = Field(default_factory=YanConfig)
    large: _or_auto(YanConfig) = Field(
        "auto", description="a model section, or auto: about drones x the small model's params"
    )


class HostsConfig(_Strict):
    """How brains are sharded over Ray host actors."""

    agents_per_host: _or_auto(PositiveInt) = Field(
        "auto", description="brains per host; auto: one host per available CPU"
    )
    resources: Resources = Field(
        default_factory=list,
        description="custom Ray resources per host ({gpu0: 1}, or a list cycled over hosts)",
    )
    ports: PortRange = Field(
        None,
        description="TCP ports of the hosts' ZeroMQ sockets on each node: a port (7000) or a "
        "range (7000-7007) with one port per host on that node; empty: any free port",
    )
    placement_timeout_s: PositiveFloat = Field(
        60.0,
        description="seconds the cluster may take to place every host before the run fails "
        "(exit 2) instead of waiting forever (s)",
    )
    max_restarts: NonNegativeInt = Field(
        1,
        description="times Ray may restart each host actor in a run; a restarted host continues "
        "from its last restart snapshot (0: a dead host ends the run)",
    )
    snapshot_every: PositiveInt = Field(
        1,
        description="knowledge rounds between the hosts' restart snapshots (1: after every "
        "round); a restarted host loses up to this many rounds of its work, and each snapshot "
        "pauses every host while it writes (docs/faults.md)",
    )
    snapshot_dir: str | None = Field(
        None,
        description="absolute folder on each node's local disk for the hosts' restart "
        "snapshots (two files per host, removed at the end); empty: the node's temporary folder",
    )

    @field_validator("snapshot_dir")
    @classmethod
    def _absolute(cls, v: str | None) -> str | None:
        if v is not None and not Path(v).is_absolute():
            raise ValueError(
                f"hosts.snapshot_dir must be an absolute path (it is resolved on every node), "
                f"got {v!r}"
            )
        return v


class RayConfig(_Strict):
    """Where Ray runs: embedded on 127.0.0.1 (address empty) or an existing cluster."""

    address: str | None = Field(None, description="'auto' or HOST:PORT of a running cluster")
    num_cpus: PositiveInt | None = Field(
        None, description="CPUs of an embedded Ray (empty: all of this machine's)"
    )


class OutputConfig(_Strict):
    """Where results go: `DIR/<name>-<time>/` with config, results.json, CSV and plots."""

    dir: str = Field("runs", min_length=1, description="parent folder of run folders")
    plots: bool = Field(True, description="write PNG plots at the end")
    csv_every: PositiveInt = Field(1, description="write a per-tick CSV row every this many ticks")
    mlflow: str | None = Field(
        None, description="MLflow tracking URI (e.g. file:./mlruns); needs `pip install mlflow`"
    )
    record: _or_auto(bool) = Field(  # type: ignore[valid-type]
        "auto",
        description="write a replayable recording per team x seed under trajectories/ "
        "(docs/recording.md); auto: when drones x horizon <= 100000 drone-ticks",
    )
    live: bool = Field(
        False,
        description="rewrite recordings about every second while missions fly, for a viewer "
        "watching the run (swarm.run --view sets it)",
    )
    record_belief_every: NonNegativeInt = Field(
        0, description="ticks between belief-map snapshots in a recording (0: horizon / 20)"
    )


class RunConfig(_Strict):
    """A whole run, as written in a scenario YAML file (every section but `scenario` optional).

    Validate with `RunConfig.model_validate(data)` (or `load_config`): it returns an instance
    of `run_config_class(scenario)`, whose `world` is that scenario's `Config`.
    """

    name: str = Field(
        "", pattern=r"^$|^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="run name (default: scenario)"
    )
    scenario: str = Field(description="registered scenario name (scenarios.REGISTRY)")
    seeds: Seeds = Field(
        default_factory=lambda: [0, 1, 2],
        description="world seeds: a count n (seeds 0..n-1) or a list of distinct seeds; "
        "at most MAX_SEEDS (10000)",
    )
    ticks: PositiveInt | None = Field(None, description="horizon in ticks (empty: the world's)")
    drones: PositiveInt = Field(16, description="drones N in the swarm, isolated, central teams")
    world: dict[str, Any] = Field(default_factory=dict, description="the scenario's Config")
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    model: ModelsConfig = Field(default_factory=ModelsConfig)
    learner: LearnerConfig = Field(default_factory=LearnerConfig)
    protocol: ProtocolConfig = Field(default_factory=ProtocolConfig)
    teams: Annotated[list[str], AfterValidator(_unique), Field(min_length=1)] = Field(
        default_factory=lambda: list(TEAMS),
        description=f"teams to score: presets ({', '.join(TEAMS)}) and variants",
    )
    reference: str | None = Field(
        None, description="team the others are compared with (empty: swarm, else the first team)"
    )
    variants: list[TeamVariant] = Field(
        default_factory=list, description="teams defined on a preset (swarm.variants)"
    )
    faults: FaultsConfig = Field(
        default_factory=FaultsConfig, description="injected failures (swarm.fault_config)"
    )
    hosts: HostsConfig = Field(default_factory=HostsConfig)
    ray: RayConfig = Field(default_factory=RayConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    @field_validator("scenario")
    @classmethod
    def _known_scenario(cls, v: str) -> str:
        names = sorted(registry())
        if v not in names:
            close = difflib.get_close_matches(v, names, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            reason = f"unknown scenario {v!r}; {hint}registered: {', '.join(names)}"
            raise PydanticCustomError("unknown_scenario", "{reason}", {"reason": reason})
        return v

    @model_validator(mode="after")
    def _fill_defaults(self) -> RunConfig:
        # Filled here, not by field defaults, so that a written value always wins and the
        # resolved config (model_dump) records what was actually used.
        if not self.name:
            self.name = self.scenario
        if self.policy.name is None:
            self.policy.name = registry()[self.scenario].default_policy
        return self

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> RunConfig:
        """Validate `obj` into the scenario's concrete `RunConfig` and run cross checks.

        Raises `pydantic.ValidationError`; cross-check errors have type `cross_check`.
        """
        scenario = obj.get("scenario") if isinstance(obj, dict) else None
        if cls is not RunConfig or not isinstance(scenario, str) or scenario not in registry():
            return super().model_validate(obj, **kwargs)
        cfg = run_config_class(scenario).model_validate(obj, **kwargs)
        variants = [ConfigProblem(loc, msg) for loc, msg in variant_problems(cfg)]
        problems = cfg.cross_problems() + variants
        if problems:
            raise ValidationError.from_exception_data(
                "RunConfig",
                [
                    {
                        "type": PydanticCustomError(
                            "cross_check", "{reason}", {"reason": p.message}
                        ),
                        "loc": p.loc,
                        "input": obj,
                    }
                    for p in problems
                ],
            )
        return cfg

    def cross_problems(self) -> list[ConfigProblem]:
        """Problems that need several sections at once; empty when the run is consistent.

        Sizes first (a run too big to build gets that one problem); the topology only when
        the `swarm` team, the one that exchanges knowledge over it, is scored.
        """
        flies_large = set(LARGE_TEAMS) & set(self.teams)
        large = self.large_model() if flies_large else None
        too_big = size_problems(self.world, self.drones, self.teams, self.model.small, large)
        if too_big:  # the other checks would build what is too big
            return too_big
        scenario = registry()[self.scenario]
        out = world_problems(scenario, self.world, self.drones, self.ticks)
        if "swarm" in self.teams:
            out += topology_problems(self.protocol.topology, self.drones)
        policy = self.policy.name or scenario.default_policy  # filled in by _fill_defaults
        topology = self.protocol.topology.kind if "swarm" in self.teams else "star"
        faults = fault_problems(self.faults, self.drones, topology)
        out += [ConfigProblem(loc, msg) for loc, msg in faults]
        return out + policy_problems(scenario, policy, self.policy.params)

    def large_model(self) -> YanConfig:
        """The large model's config; `auto` scales the small one to about N times its params."""
        if isinstance(self.model.large, YanConfig):
            return self.model.large
        return scaled(self.model.small, float(self.drones))

    def team_config(self, team: str) -> tuple[str, RunConfig]:
        """`(base preset, configuration)` team `team` flies with (`swarm.variants.resolve`)."""
        return resolve(self, team)


@functools.cache
def run_config_class(scenario: str) -> type[RunConfig]:
    """`RunConfig` with `scenario` fixed and `world` typed as `REGISTRY[scenario].Config`."""
    world_cls = registry()[scenario].Config
    return create_model(
        f"RunConfig_{scenario}",
        __base__=RunConfig,
        __doc__=f"A run of scenario {scenario!r}.",
        scenario=(Literal[scenario], Field(description="registered scenario name")),
        world=(world_cls, Field(default_factory=world_cls, description=world_cls.__doc__)),
    )


class ConfigError(Exception):
    """A run configuration is invalid; `.errors` are `FILE:LINE: field.path: message` lines."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def _apply_overrides(data: dict[str, Any], overrides: dict[str, Any] | None) -> set[Loc]:
    """Set each `"a.b": value` of `overrides` into `data` (None values are skipped)."""
    done: set[Loc] = set()
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        path = tuple(key.split("."))
        node = data
        for step in path[:-1]:
            child = node.setdefault(step, {})
            if not isinstance(child, dict):
                raise ConfigError([f"override {key}: '{step}' is not a section"])
            node = child
        node[path[-1]] = value
        done.add(path)
    return done


def load_config(
    path: str | Path, overrides: dict[str, Any] | None = None, skip: tuple[str, ...] = ()
) -> RunConfig:
    """Read a scenario YAML file into a validated `RunConfig`.

    `overrides` maps dotted field paths to values set on the command line
    (`{"seeds": 5, "ticks": 200, "teams": ["swarm"]}`); None values are ignored. Raises
    `ConfigError` listing every problem found (YAML syntax, unknown or bad fields, cross
    checks), each as `FILE:LINE: field.path: message`. `skip` names top-level sections read
    by another tool (a study's `sweep:`, `swarm.sweep`), left out of the run's config.
    """
    try:
        doc = load_yaml(path)
    except YamlLoadError as err:
        raise ConfigError(err.errors) from None
    return config_of(doc, overrides, skip)


def config_of(
    doc: YamlDoc, overrides: dict[str, Any] | None = None, skip: tuple[str, ...] = ()
) -> RunConfig:
    """`load_config` of a YAML file already read (`swarm.yaml_lines.load_yaml`): a study
    validates each of its points from one read of its file."""
    if doc.data is None:
        raise ConfigError([f"{doc.path}:1: the file is empty; start with `scenario: NAME`"])
    if not isinstance(doc.data, dict):
        kind = type(doc.data).__name__
        raise ConfigError([f"{doc.path}:1: expected `field: value` lines, got a YAML {kind}"])
    data = {k: v for k, v in copy.deepcopy(doc.data).items() if k not in skip}
    overridden = _apply_overrides(data, overrides)
    try:
        cfg = RunConfig.model_validate(data)
    except ValidationError as err:
        scenario = data.get("scenario")
        known = isinstance(scenario, str) and scenario in registry()
        model = run_config_class(scenario) if known else RunConfig
        raise ConfigError(format_errors(err, doc, model, overridden)) from None
    coerced = string_coercions(data, cfg.model_dump())  # strict types: no "yes" -> True
    if coerced:
        raise ConfigError([_coercion_message(doc, *c) for c in coerced])
    return cfg


def _coercion_message(doc: YamlDoc, loc: Loc, text: str, kind: str) -> str:
    where = ".".join(str(p) for p in loc)
    hint = (
        "write true or false (yes/no/on/off are strings in YAML 1.2)"
        if kind == "bool"
        else "write a bare number, without quotes (YAML 1.2 has no base-60 like 1:20)"
    )
    line = doc.line_of(loc)
    return f"{doc.path}:{line}: {where}: expected a {kind}, got the string {text!r}; {hint}"

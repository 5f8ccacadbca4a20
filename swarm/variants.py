"""Team variants: named teams an author defines in YAML on top of a built-in preset.

```yaml
teams: [swarm, isolated, swarm_no_beliefs, frozen_swarm]
reference: swarm                    # paired differences are taken against this team
variants:
  - name: swarm_no_beliefs          # a new team name
    base: swarm                     # the preset it starts from (swarm.teams.TEAMS)
    protocol: {share_beliefs: false}
  - name: frozen_swarm
    base: swarm
    learner: {enabled: false}       # brains keep their pretrained weights
  - name: single_large_budget
    base: single_large
    world: {battery_wh: 960.0}      # the budget: 16 drones' batteries in one body
```

A variant overrides, for its own runs only, the run's `drones`, `model`, `learner`,
`protocol` (the sharing switches: `share_beliefs`, ...) and `world` (its flight budget:
`battery_wh`, ...). Within a section only the fields written replace the run's values; a
sub-section written (`topology: {kind: star}`) replaces the run's sub-section whole. The
base decides how brains are placed and whether they share (`swarm.teams`).

`variant_problems` lists what is wrong as `(loc, message)` pairs, so each error points at
its file line; `resolve` gives the base team and the configuration one team flies with.
Both read a run's configuration through `RunView`, the part of `swarm.config.RunConfig`
they need (so this module, which `swarm.config` builds on, does not import it back).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    field_serializer,
    field_validator,
)
from pydantic_core import PydanticCustomError

from agents.config import LearnerConfig, YanConfig
from protocols.config import ProtocolConfig
from swarm.config_checks import ConfigProblem
from swarm.config_errors import suggest
from swarm.teams import ONE_DRONE_TEAMS, TEAMS, budget_factor
from swarm.yaml_lines import Loc

__all__ = ["OVERRIDES", "RunView", "TeamVariant", "preset_config", "resolve", "variant_problems"]

#: The RunConfig sections a variant may override (docs/scenarios.md lists them).
OVERRIDES = ("drones", "model", "learner", "protocol", "world")
#: Protocol fields fixed when the hosts start, for the whole run: not a team's to change.
RUN_LEVEL_PROTOCOL = ("security", "max_message_bytes")


class VariantModels(BaseModel):
    """Model overrides of a variant: the small and/or large model section."""

    model_config = ConfigDict(extra="forbid")

    small: dict[str, Any] | None = Field(None, description="fields of model.small to replace")
    large: dict[str, Any] | None = Field(None, description="fields of model.large to replace")


class TeamVariant(BaseModel):
    """One team defined in YAML: a preset `base` with some of the run's sections overridden."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$", description="the team's name in teams and results"
    )
    base: str = Field(description=f"the preset it starts from: {', '.join(TEAMS)}")
    drones: PositiveInt | None = Field(None, description="drones flown (empty: the run's)")
    model: VariantModels | None = Field(None, description="model.small / model.large fields")
    learner: LearnerConfig | None = Field(None, description="learner fields (enabled: false...)")
    protocol: ProtocolConfig | None = Field(None, description="protocol fields (share_beliefs..)")
    world: dict[str, Any] | None = Field(None, description="world fields (budget: battery_wh)")

    @field_serializer("learner", "protocol")
    def _only_written(self, section: BaseModel | None) -> dict[str, Any] | None:
        # the resolved config.yaml must re-run as is: a dumped default would read as written
        return None if section is None else section.model_dump(mode="json", exclude_unset=True)

    @field_validator("base")
    @classmethod
    def _known_base(cls, v: str) -> str:
        if v not in TEAMS:
            raise PydanticCustomError(
                "unknown_team", "{reason}", {"reason": _unknown("base team", v, TEAMS)}
            )
        return v


class ModelsView(Protocol):
    """The run's `model` section as a variant reads it (`swarm.config.ModelsConfig`)."""

    @property
    def small(self) -> YanConfig: ...

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with `update`'s fields replaced (pydantic's `BaseModel.model_copy`)."""
        ...


class RunView(Protocol):
    """What variants read of a run's configuration; `swarm.config.RunConfig` (each
    scenario's concrete subclass, whose `world` is that scenario's Config) is one."""

    @property
    def drones(self) -> int: ...
    @property
    def ticks(self) -> int | None: ...
    @property
    def world(self) -> BaseModel: ...
    @property
    def model(self) -> ModelsView: ...
    @property
    def learner(self) -> LearnerConfig: ...
    @property
    def protocol(self) -> ProtocolConfig: ...
    @property
    def teams(self) -> Sequence[str]: ...
    @property
    def reference(self) -> str | None: ...
    @property
    def variants(self) -> Sequence[TeamVariant]: ...

    def large_model(self) -> YanConfig:
        """The large model's config (`auto` resolved to the concrete model)."""
        ...

    def cross_problems(self) -> list[ConfigProblem]:
        """Problems that need several sections at once (`RunConfig.cross_problems`)."""
        ...

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with `update`'s fields replaced (pydantic's `BaseModel.model_copy`)."""
        ...


#: A run configuration, given back as the same type it came in as (`RunConfig` in, out).
Run = TypeVar("Run", bound=RunView)


def _unknown(what: str, name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"unknown {what} {name!r}; {hint}choose one of: {', '.join(known)}"


def _written(section: BaseModel | None) -> dict[str, Any]:
    """The fields an author wrote in a section (defaults not written stay the run's)."""
    if section is None:
        return {}
    return {k: getattr(section, k) for k in section.model_fields_set}


def _merged(base: BaseModel, over: dict[str, Any] | BaseModel | None) -> BaseModel:
    """`base` with the written fields of `over` replaced, validated as `base`'s class."""
    fields = _written(over) if isinstance(over, BaseModel) else dict(over or {})
    if not fields:
        return base
    data = base.model_dump()
    data.update({k: v.model_dump() if isinstance(v, BaseModel) else v for k, v in fields.items()})
    return type(base).model_validate(data)


def resolve(cfg: Run, team: str) -> tuple[str, Run]:
    """`(base preset, configuration)` that team `team` flies with.

    A preset flies with `preset_config(cfg, team)` (`cfg` itself but for
    `single_large_budget`); a variant with a copy of its base's configuration whose
    overridden sections are merged (see the module docstring). Raises KeyError for an
    unknown team.
    """
    if team in TEAMS:
        return team, preset_config(cfg, team)
    for v in cfg.variants:
        if v.name == team:
            return v.base, _apply(preset_config(cfg, v.base), v)
    raise KeyError(f"unknown team {team!r}: not a preset ({', '.join(TEAMS)}) nor a variant")


def preset_config(cfg: Run, team: str) -> Run:
    """The configuration preset `team` flies with in a run configured as `cfg`.

    `cfg` itself, except for a team whose drone carries several drones' budget
    (`swarm.teams.budget_factor`, N = `cfg.drones` for `single_large_budget`): its world's
    `battery_wh` and its horizon (`ticks` when the run sets it, else `world.horizon`) are
    multiplied by N: N times the energy and N times the flight time of one drone, the total
    the N-drone teams fly with.
    """
    n = budget_factor(team, cfg.drones)
    if n == 1:
        return cfg
    world = cfg.world
    fields = type(world).model_fields
    scaled: dict[str, Any] = {"battery_wh": n * world.battery_wh}  # type: ignore[attr-defined]
    if "horizon" in fields:
        scaled["horizon"] = n * world.horizon  # type: ignore[attr-defined]
    update: dict[str, Any] = {"world": _merged(world, scaled)}
    if cfg.ticks is not None:
        update["ticks"] = n * cfg.ticks
    return cfg.model_copy(update=update)


def _apply(cfg: Run, v: TeamVariant) -> Run:
    update: dict[str, Any] = {}
    if v.drones is not None:
        update["drones"] = v.drones
    if v.learner is not None:
        update["learner"] = _merged(cfg.learner, v.learner)
    if v.protocol is not None:
        update["protocol"] = _merged(cfg.protocol, v.protocol)
    if v.world:
        update["world"] = _merged(cfg.world, v.world)
    if v.model is not None:
        models = cfg.model
        if v.model.small:
            models = models.model_copy(update={"small": _merged(models.small, v.model.small)})
        if v.model.large:
            large = cfg.large_model()  # `auto` becomes the concrete model it stands for
            models = models.model_copy(update={"large": _merged(large, v.model.large)})
        update["model"] = models
    return cfg.model_copy(update=update)


def variant_problems(cfg: RunView) -> list[tuple[Loc, str]]:
    """What is wrong with `cfg`'s variants, teams and reference, as `(loc, message)` pairs.

    Duplicate or preset-shadowing variant names, a `drones` override of `single_large`,
    overrides that do not validate against the run's sections, a team in `teams` that is
    neither a preset nor a variant, a `reference` that is not one of `teams`.
    """
    problems: list[tuple[Loc, str]] = []
    seen: set[str] = set()
    for i, v in enumerate(cfg.variants):
        if v.name in TEAMS:
            msg = f"{v.name!r} is a built-in team; give the variant its own name"
            problems.append((("variants", i, "name"), msg))
        elif v.name in seen:
            problems.append((("variants", i, "name"), f"duplicate variant name {v.name!r}"))
        seen.add(v.name)
        for key in (
            sorted(v.protocol.model_fields_set & set(RUN_LEVEL_PROTOCOL)) if v.protocol else ()
        ):
            msg = f"protocol.{key} holds for the whole run; set it in the run's protocol section"
            problems.append((("variants", i, "protocol", key), msg))
        if v.drones is not None and v.base in ONE_DRONE_TEAMS:
            msg = f"{v.base} flies one drone; base the variant on swarm or isolated instead"
            problems.append((("variants", i, "drones"), msg))
        for section in ("learner", "protocol", "world", "model"):
            if getattr(v, section) is None:
                continue
            only = TeamVariant.model_construct(name=v.name, base=v.base, drones=None)
            only.__dict__[section] = getattr(v, section)
            try:
                _apply(cfg, only)
            except ValidationError as err:  # the merged section no longer validates
                fields = _section_fields(cfg, section)
                problems += _section_problems(err, ("variants", i, section), fields)
        problems += _cross_problems(cfg, v, i)
    known = list(dict.fromkeys([*TEAMS, *(v.name for v in cfg.variants)]))
    for i, team in enumerate(cfg.teams):
        if team not in known:
            problems.append((("teams", i), _unknown("team", team, known)))
    if cfg.reference is not None and cfg.reference not in cfg.teams:
        problems.append((("reference",), _unknown("reference team", cfg.reference, cfg.teams)))
    return problems


def _cross_problems(cfg: RunView, v: TeamVariant, i: int) -> list[tuple[Loc, str]]:
    """The run's cross checks on the variant's own configuration (its drones versus the
    topology and the world, ...), for what the run's configuration does not already fail."""
    try:
        mine = _apply(preset_config(cfg, v.base), v).model_copy(update={"teams": [v.base]})
    except ValidationError:
        return []  # reported field by field above
    run = cfg.model_copy(update={"teams": [v.base]})
    theirs = {p.message for p in run.cross_problems()}
    out: list[tuple[Loc, str]] = []
    for p in mine.cross_problems():
        loc, msg = p.loc, p.message
        if msg in theirs:
            continue
        section = loc[0] if loc and loc[0] in OVERRIDES else None
        where: Loc = (
            ("variants", i, section) if section and getattr(v, section) else ("variants", i)
        )
        out.append((where, f"{'.'.join(map(str, loc))}: {msg}"))
    return out


def _section_fields(cfg: RunView, section: str) -> list[str]:
    model = cfg.model.small if section == "model" else getattr(cfg, section)
    return list(type(model).model_fields)


def _section_problems(
    err: ValidationError, prefix: Loc, fields: list[str]
) -> list[tuple[Loc, str]]:
    """A merged section's errors, located under the variant's section."""
    out = []
    for e in err.errors(include_url=False):
        loc = (*prefix, *(p for p in e["loc"] if isinstance(p, str | int)))
        if e["type"] == "extra_forbidden":
            key = str(e["loc"][-1])
            msg = f"unknown field '{key}'; {suggest(key, fields)}"
        else:
            msg = e["msg"].removeprefix("Value error, ")
            if isinstance(e.get("input"), str | int | float | bool):
                msg += f" (got {e['input']!r})"
        out.append((loc, msg))
    return out

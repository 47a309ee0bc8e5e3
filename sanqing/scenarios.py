"""Drill scenarios (``config/scenarios/*.yaml``): a warning and what the field reports."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from sanqing.answers import FindingInput as FindingInput  # re-exported: field reports live here too
from sanqing.answers import SimulatedAnswers
from sanqing.errors import ScenarioError, describe_validation
from sanqing.plans import Level
from sanqing.settings import get_settings
from sanqing.warning import WarningInfo

DEFAULT_SCENARIO = "orange-rainstorm"
#: A scenario given by file rather than by name ends like this (or names a folder).
SCENARIO_SUFFIXES = (".yaml", ".yml")


class RoadReport(BaseModel):
    """A blocked road segment reported from the field (by code or by name)."""

    model_config = ConfigDict(extra="forbid")

    road: str = Field(title="路段", description="road segment code or name")
    cause: str = Field("落石", title="原因")
    description: str = Field("", title="情况")
    cleared: bool = Field(False, title="已清除", description="the machine reports it cleared")


class EpidemicOverlay(BaseModel):
    """三情叠加: the town runs the epidemic plan at this level when the flood comes."""

    model_config = ConfigDict(extra="forbid")

    level: Level = Field(title="疫情防控响应级别")
    registrations: str = Field(
        "registrations.csv", description="the register imported first, in the town's folder"
    )


class Scenario(BaseModel):
    """A drill: the warning, the level (or derived from the plan), and field reports."""

    model_config = ConfigDict(extra="forbid")

    name: str
    title: str
    town: str = "jifeng"
    plan: str = "flood"
    level: Level | None = None
    warning: WarningInfo
    findings: list[FindingInput] = Field(default_factory=list)
    roads: list[RoadReport] = Field(default_factory=list)
    # What the commander, the villages and the patrol answer: a drill never waits.
    answers: SimulatedAnswers = Field(default_factory=SimulatedAnswers)
    # 三情叠加: the epidemic response the flood comes during (opened first, as a drill)
    epidemic: EpidemicOverlay | None = None
    _source: Path | None = PrivateAttr(default=None)

    @property
    def ref(self) -> str:
        """What loads this very file again, from any process: its name, or its absolute path.

        The name only when the file is ``config/scenarios/<name>.yaml``: a copy elsewhere
        with the same name may hold other answers.
        """
        if self._source is None or self._source == scenario_path(self.name):
            return self.name
        return str(self._source)


def scenario_path(scenario: Path | str | None = None) -> Path:
    """The file of a scenario: a name from ``config/scenarios/``, or a path anywhere.

    A path ends in ``.yaml``/``.yml`` or names a folder (``./x``, ``/srv/x``); it is
    taken from the working directory when relative, and returned absolute, so a flow
    run started elsewhere finds the same file.
    """
    p = Path(scenario or DEFAULT_SCENARIO).expanduser()
    if p.suffix in SCENARIO_SUFFIXES or len(p.parts) > 1:
        return p.resolve()
    return (get_settings().scenarios_dir / f"{p.name}.yaml").resolve()


def load_scenario(scenario: Path | str | None = None) -> Scenario:
    """Load a scenario by name (``config/scenarios/<name>.yaml``) or from a file anywhere."""
    p = scenario_path(scenario)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{p}: cannot read the scenario ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{p}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ScenarioError(f"{p}: expected a mapping at the top level")
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"{p}: invalid scenario\n  {describe_validation(exc)}") from exc
    sc._source = p
    return sc

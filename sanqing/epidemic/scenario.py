"""An epidemic drill's scenario (``config/scenarios/*.yaml`` with ``plan: epidemic``).

The level, the day the drill starts and how many days it runs, the register it
imports, and what people answer (a drill never waits): the follow-ups that find
symptoms or nobody, the shifts nobody confirms, the supplies that fall short, the
households the door-knocking misses, who rides to vaccination and who got the jab.
People and households are named as in the register and the ledger (name and village,
or a household code); one that does not exist is refused naming it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from sanqing.errors import ScenarioError, describe_validation
from sanqing.models import FollowUpAnswer
from sanqing.plans import Level
from sanqing.scenarios import scenario_path


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FollowUpCase(_Strict):
    """A follow-up that does not find the person healthy: on which day of the drill."""

    person: str  # the name as registered
    village: str
    day: int = Field(ge=1)
    answer: FollowUpAnswer
    note: str = ""


class ShortSupply(_Strict):
    point: str  # point code
    item: str
    delivered: int = Field(ge=0)


class ShuttleAnswers(_Strict):
    # Every elderly-alone or mobility-impaired household of these villages asks for a ride.
    villages: list[str] = Field(default_factory=list)
    declined: list[str] = Field(default_factory=list)  # household codes that say no after all
    not_vaccinated: list[str] = Field(default_factory=list)  # rode, but got no jab (why: note)


class EpidemicAnswers(_Strict):
    followups: list[FollowUpCase] = Field(default_factory=list)
    unconfirmed_shifts: list[str] = Field(default_factory=list)  # point codes: first shift
    short: list[ShortSupply] = Field(default_factory=list)
    not_knocked: list[str] = Field(default_factory=list)  # household codes nobody opened for
    shuttles: ShuttleAnswers = Field(default_factory=ShuttleAnswers)
    responder: str = "演练网格员"


class EpidemicScenario(_Strict):
    name: str
    title: str
    town: str = "jifeng"
    plan: str = "epidemic"
    level: Level
    starts: datetime  # when the response starts, on the drill's clock (with its zone)
    days: int = Field(3, ge=1, le=30)
    registrations: str | None = "registrations.csv"  # in the town's folder; None: as stored
    answers: EpidemicAnswers = Field(default_factory=EpidemicAnswers)
    _source: Path | None = PrivateAttr(default=None)

    @property
    def ref(self) -> str:
        """What loads this very file again from any process: its name, or its absolute path."""
        if self._source is None or self._source == scenario_path(self.name):
            return self.name
        return str(self._source)


def scenario_plan(scenario: Path | str | None) -> str:
    """Which plan a scenario drills (``plan:``, flood when absent); '' when unreadable."""
    try:
        data = yaml.safe_load(scenario_path(scenario).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return ""
    plan = data.get("plan", "flood") if isinstance(data, dict) else ""
    return plan if isinstance(plan, str) else ""


def load_epidemic_scenario(scenario: Path | str | None) -> EpidemicScenario:
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
        sc = EpidemicScenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"{p}: invalid scenario\n  {describe_validation(exc)}") from exc
    if sc.starts.tzinfo is None:
        raise ScenarioError(f"{p}: starts: give the time zone (e.g. 2026-07-20T08:00:00+08:00)")
    sc._source = p
    return sc

"""The epidemic plan file (``config/plans/epidemic.yaml``), validated on load.

Per level Ⅳ–Ⅰ: which arrivals are screened and what each risk class calls for (home
health monitoring days, a test), how often the grid follows up a monitored person,
which points are staffed around the clock, which notices go out and when the daily
report is due. Besides the levels: the dated risk areas (风险区), the duty rules of
the points, what a point needs a day, and the share of a shelter's places kept when
a flood comes during the epidemic (spacing). A wrong file is refused in one message
naming the file, the key and why.
"""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

from pydantic import Field, ValidationError, model_validator

from sanqing.errors import PlanConfigError, describe_validation
from sanqing.models import Channel, Level
from sanqing.plans import Strict, read_plan_yaml
from sanqing.rules.arrivals import ArrivalRisk, Measures, RiskArea
from sanqing.rules.roster import DutyRules
from sanqing.settings import get_settings


class EpidemicLevel(Strict):
    name: str
    screen: list[ArrivalRisk] = Field(min_length=1)  # classes registered and followed
    monitoring_days: dict[ArrivalRisk, int] = Field(default_factory=dict)
    test: list[ArrivalRisk] = Field(default_factory=list)
    followup_every_hours: int = Field(24, ge=1, le=168)
    points: list[str] = Field(default_factory=list)  # point kinds staffed 24 h
    notices: list[Channel] = Field(default_factory=list)
    daily_report_at: time = time(16, 0)

    @model_validator(mode="after")
    def _consistent(self) -> EpidemicLevel:
        bad = [d for d in self.monitoring_days.values() if not 0 <= d <= 60]
        if bad:
            raise ValueError(f"monitoring_days must be 0 to 60, not {bad[0]}")
        unscreened = sorted({*self.monitoring_days, *self.test} - set(self.screen))
        if unscreened:
            raise ValueError(f"measures for classes not screened: {', '.join(unscreened)}")
        return self

    def measures(self) -> Measures:
        return Measures(dict(self.monitoring_days), frozenset(self.test))


class Duty(Strict):
    shift_hours: float = Field(8, gt=0, le=24)
    min_rest_hours: float = Field(8, ge=0)
    max_hours_per_day: float = Field(12, gt=0, le=24)

    def rules(self) -> DutyRules:
        return DutyRules(self.shift_hours, self.min_rest_hours, self.max_hours_per_day)


class Area(Strict):
    code: str = Field(pattern=r"^\d{2,12}$")
    name: str = ""
    risk: ArrivalRisk
    since: date
    until: date | None = None

    def area(self) -> RiskArea:
        return RiskArea(self.code, self.risk, self.since, self.until)


class EpidemicPlan(Strict):
    plan: str
    title: str
    title_en: str
    lookback_days: int = Field(14, ge=1, le=60)
    shelter_capacity_factor: float = Field(0.5, gt=0, le=1)
    duty: Duty = Duty()
    supplies_per_point_day: dict[str, int] = Field(default_factory=dict)
    risk_areas: list[Area] = Field(default_factory=list)
    levels: dict[Level, EpidemicLevel]

    @model_validator(mode="after")
    def _complete(self) -> EpidemicPlan:
        missing = [lv.value for lv in Level if lv not in self.levels]
        if missing:
            raise ValueError(f"every level IV–I needs an entry; missing: {', '.join(missing)}")
        for area in self.risk_areas:
            if area.until is not None and area.until < area.since:
                raise ValueError(f"risk area {area.code}: until {area.until} before {area.since}")
        return self

    def areas(self) -> list[RiskArea]:
        return [a.area() for a in self.risk_areas]


def load_epidemic_plan(path: Path | None = None) -> EpidemicPlan:
    """``config/plans/epidemic.yaml`` (or ``path``), validated; errors name file and key."""
    path = path or get_settings().plans_dir / "epidemic.yaml"
    if not path.is_file():
        raise PlanConfigError(f"{path}: no such plan file (plans live in config/plans/)")
    data = read_plan_yaml(path)
    try:
        return EpidemicPlan.model_validate(data)
    except ValidationError as exc:
        raise PlanConfigError(f"{path}: invalid plan\n  {describe_validation(exc)}") from exc

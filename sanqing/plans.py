"""The plan configuration (``config/plans/*.yaml``), validated on load."""

from __future__ import annotations

from datetime import time
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sanqing.errors import PlanConfigError, describe_validation
from sanqing.models import Channel, HazardKind, InspectionPhase, RiskLevel, Zone
from sanqing.models import Level as Level  # the response levels; defined with the tables
from sanqing.settings import get_settings


class Colour(StrEnum):
    BLUE = "blue"
    YELLOW = "yellow"
    ORANGE = "orange"
    RED = "red"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RelocationScope(Strict):
    """Who is ordered to move at a level; the criteria add up."""

    vulnerable_in_hazard_zones: bool = False
    dangerous_house_ratings: list[str] = Field(default_factory=list)
    hazard_risk_at_least: RiskLevel | None = None
    # A lower bar for some zones: e.g. {danger: low} moves everyone of a danger zone
    # while the alert zones move from ``hazard_risk_at_least`` up (中高风险区).
    hazard_risk_by_zone: dict[Zone, RiskLevel] = Field(default_factory=dict)
    zones: list[Zone] = Field(default_factory=list)
    on_danger_finding: bool = True

    def risk_bar(self, zone: Zone) -> RiskLevel | None:
        """The lowest hazard risk that moves a household of ``zone`` (None: risk moves nobody)."""
        return self.hazard_risk_by_zone.get(zone, self.hazard_risk_at_least)

    @model_validator(mode="after")
    def _ratings_known(self) -> RelocationScope:
        bad = [r for r in self.dangerous_house_ratings if r not in {"A", "B", "C", "D"}]
        if bad:
            raise ValueError(f"house safety ratings are A–D, got {bad}")
        return self

    @property
    def moves_anyone_by_default(self) -> bool:
        return bool(
            self.vulnerable_in_hazard_zones
            or self.dangerous_house_ratings
            or self.hazard_risk_at_least is not None
            or bool(self.hazard_risk_by_zone)
        )


class ReportDeadlines(Strict):
    """Report deadlines of a level; the first two count from the event (the warning
    received, else the first danger found, else the activation)."""

    phone_within_minutes: int = Field(30, gt=0, le=24 * 60)  # 电话报告 to the county 防指
    initial_within_minutes: int = Field(60, gt=0, le=24 * 60)  # the written 首报
    follow_up_every_hours: float = Field(6, gt=0, le=48)

    @model_validator(mode="after")
    def _phone_first(self) -> ReportDeadlines:
        if self.phone_within_minutes > self.initial_within_minutes:
            raise ValueError(
                f"phone_within_minutes ({self.phone_within_minutes}) is after "
                f"initial_within_minutes ({self.initial_within_minutes}): the phone report "
                "comes first"
            )
        return self


class ApprovalWhen(StrEnum):
    """When the commander must approve before residents are told to move."""

    NEVER = "never"
    MANUAL = "manual"  # a manual start without a warning
    ALWAYS = "always"  # every activation at this level


class OnTimeout(StrEnum):
    """What happens when the commander has not answered in time."""

    PROCEED = "proceed"  # order the moves: waiting is the greater danger
    HOLD = "hold"  # no move orders; the response goes on without them


class Urgent(StrEnum):
    """三个紧急撤离: triggers that move the threatened households at once, approval or not."""

    DANGER_FINDING = "danger_finding"  # 发现异常险情
    CANNOT_JUDGE = "cannot_judge"  # 险情不能研判
    NIGHT = "night"  # 夜间: the planned moves of danger zones do not wait for the morning


class ApprovalRule(Strict):
    """The commander approves the planned, wider moves; the ``bypass`` triggers never wait."""

    when: ApprovalWhen = ApprovalWhen.MANUAL
    timeout_minutes: float = Field(30, gt=0, le=24 * 60)
    on_timeout: OnTimeout = OnTimeout.HOLD
    bypass: list[Urgent] = Field(default_factory=lambda: list(Urgent))


class RollCallRule(Strict):
    """How long the villages have to report who moved before the rest is escalated."""

    within_minutes: float = Field(60, gt=0, le=24 * 60)


class LevelPlan(Strict):
    name: str
    relocate: RelocationScope = RelocationScope()
    inspection_phases: list[InspectionPhase] = Field(min_length=1)
    notify: list[Channel] = Field(default_factory=list)
    reports: ReportDeadlines = ReportDeadlines()
    approval: ApprovalRule = ApprovalRule()
    roll_call: RollCallRule = RollCallRule()


class AcknowledgementRule(Strict):
    """叫应: how long a cadre has to answer a task, resends, then who is next."""

    within_minutes: float = Field(15, gt=0, le=24 * 60)
    resends: int = Field(1, ge=0, le=5)
    chain: list[str] = Field(
        default_factory=lambda: ["grid_member", "village_cadre", "first_secretary", "town_leader"]
    )

    @model_validator(mode="after")
    def _roles_known(self) -> AcknowledgementRule:
        from sanqing.models import CadreRole

        bad = [r for r in self.chain if r not in {role.value for role in CadreRole}]
        if bad:
            raise ValueError(f"unknown cadre roles in the chain: {bad}")
        return self


class PlanDefaults(Strict):
    max_households_per_cadre: int = Field(12, ge=1)
    max_shelter_distance_km: float = Field(8.0, gt=0)
    sms_max_segments: int = Field(3, ge=1, le=10)
    # The signature the SMS platform puts before every message (counted in its length);
    # None: 【<county><office>】 from the town's town.yaml. Never written into the body.
    sms_signature: str | None = Field(None, pattern=r"^【[^【】]{1,30}】$")
    # How many times the loudspeaker script is written out (重要的事情说三遍).
    broadcast_repeats: int = Field(3, ge=1, le=5)
    duty_shift_hours: int = Field(24, ge=1, le=48)
    clearing_machinery: list[str] = Field(default_factory=lambda: ["挖掘机", "装载机"])
    # A real response ends only after the after-rain patrol (雨后巡查) has confirmed it safe.
    after_rain_patrol_required: bool = True
    # How long a run in the control room waits for the patrol's answer.
    after_rain_patrol_wait_hours: float = Field(12, gt=0, le=72)
    # How often the report-upward schedule looks at every running response: follow-up
    # reports (续报) when figures changed, overdue roll calls to the first secretaries.
    report_check_minutes: int = Field(30, ge=1, le=24 * 60)
    acknowledgement: AcknowledgementRule = AcknowledgementRule()
    # The daily report (日报) while a response runs: local time; a zero report when
    # nothing changed since the last report. Due within daily_report_within_minutes.
    daily_report_at: str = Field("08:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    daily_report_within_minutes: int = Field(60, ge=1, le=24 * 60)
    # A drill starts this long after its warning was issued (the office's reaction time).
    drill_reaction_minutes: int = Field(15, ge=0, le=24 * 60)
    # 夜间 for the urgent-move rule (local time, the town's clock; may wrap midnight).
    night_from: str = Field("20:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    night_until: str = Field("06:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")

    def is_night(self, local: time) -> bool:
        """Whether the local time ``local`` falls in the plan's night."""
        start, end = (time.fromisoformat(t) for t in (self.night_from, self.night_until))
        return start <= local or local < end if start > end else start <= local < end


class Plan(Strict):
    """A plan file: levels, what starts them, and what each level does."""

    plan: str
    title: str
    title_en: str
    warning_levels: dict[str, dict[Colour, Level]]
    defaults: PlanDefaults = PlanDefaults()
    levels: dict[Level, LevelPlan]
    checklists: dict[HazardKind, list[str]]

    @model_validator(mode="after")
    def _complete(self) -> Plan:
        missing = [lv.value for lv in Level if lv not in self.levels]
        if missing:
            raise ValueError(f"every level IV–I needs an entry; missing: {', '.join(missing)}")
        no_list = [k.value for k in HazardKind if k not in self.checklists]
        if no_list:
            raise ValueError(f"every hazard kind needs a checklist; missing: {', '.join(no_list)}")
        return self

    def level(self, level: Level | str) -> LevelPlan:
        return self.levels[Level(level)]

    def level_for_warning(self, hazard: str, colour: Colour | str) -> Level:
        """The response level a warning of this hazard and colour starts."""
        try:
            by_colour = self.warning_levels[hazard]
        except KeyError:
            known = ", ".join(sorted(self.warning_levels))
            raise PlanConfigError(
                f"plan {self.plan!r} has no warning_levels entry for hazard {hazard!r} "
                f"(known: {known})"
            ) from None
        try:
            return by_colour[Colour(colour)]
        except (KeyError, ValueError):
            raise PlanConfigError(
                f"plan {self.plan!r}: warning_levels.{hazard} has no level for colour {colour!r}"
            ) from None


def load_plan_file(path: Path) -> Plan:
    """Load and validate one plan file, naming the file, key and reason on error."""
    data = read_plan_yaml(path)
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        raise PlanConfigError(f"{path}: invalid plan\n  {describe_validation(exc)}") from exc


def read_plan_yaml(path: Path) -> dict[str, Any]:
    """A plan file's mapping, or a ``PlanConfigError`` naming the file, line and reason."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanConfigError(f"{path}: cannot read the plan file ({exc.strerror})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PlanConfigError(f"{path}:{where} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise PlanConfigError(f"{path}: expected a mapping at the top level, got {type(data)}")
    return data


@lru_cache
def _load_cached(path: Path, mtime_ns: int) -> Plan:
    return load_plan_file(path)


def load_plan(name: str = "flood") -> Plan:
    """Load ``config/plans/<name>.yaml`` (cached until the file changes)."""
    path = get_settings().plans_dir / f"{name}.yaml"
    if not path.is_file():
        raise PlanConfigError(f"{path}: no such plan file (plans live in config/plans/)")
    return _load_cached(path, path.stat().st_mtime_ns)

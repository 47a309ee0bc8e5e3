"""Form fields the flows share, titled in Chinese for the control room.

Prefect replaces a top-level parameter's ``title`` with its name, so the title
rides in ``json_schema_extra`` (see PREFECT-NOTES). A field with no default is
required in the deployment's form (no "(Optional)"); what Quick run and the
custom-run form start with is the deployment's ``parameters`` (``quick_run``).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, WithJsonSchema

from sanqing.forms import labelled, one_of, one_of_or_none
from sanqing.models import InspectionPhase, StartBasis
from sanqing.plans import Level
from sanqing.registry import town_choices, town_names
from sanqing.settings import DEFAULT_LOCALE, DEFAULT_TOWN

#: The town picker of the forms: one entry per configured town, by its Chinese name.
TOWNS = town_choices() or [DEFAULT_TOWN]
#: Key, code or name → the town's name: a run started by code is still named 鸡峰镇.
TOWN_NAMES = town_names()
#: The level a Quick run of a manual start takes (三级: the plan still asks the commander).
QUICK_RUN_LEVEL = Level.III

#: Ⅳ级 (lowest) … Ⅰ级: the form lists the Chinese names, the run gets the Level code.
LEVEL_OPTIONS = labelled("level", [lv.value for lv in Level])
#: A response level picked by its Chinese name.
LevelChoice = Annotated[Level, WithJsonSchema(one_of(LEVEL_OPTIONS))]
#: A level, or none: the plan gives the warning's level (one select, no switch to turn on).
LevelOrWarning = Annotated[
    Level | None, WithJsonSchema(one_of_or_none(LEVEL_OPTIONS, "按预警确定"))
]
#: 雨前排查 / 雨中除险 / 雨后巡查, or the level's first phase.
PhaseChoice = Annotated[
    InspectionPhase | None,
    WithJsonSchema(
        one_of_or_none(labelled("phase", [p.value for p in InspectionPhase]), "按响应级别")
    ),
]
#: 县防指通知 / 镇防指会商研判 / 预警, or what the start implies.
BasisChoice = Annotated[
    StartBasis | None,
    WithJsonSchema(
        one_of_or_none(labelled("basis", [b.value for b in StartBasis]), "按预警或会商研判")
    ),
]


def titled(default: Any, title: str, description: str, **extra: Any) -> Any:
    """A form field with a Chinese title and a plain-words description."""
    return Field(default, description=description, json_schema_extra={"title": title, **extra})


def required(title: str, description: str, **extra: Any) -> Any:
    """A form field that must be filled in: no default, so the form marks it required."""
    return Field(description=description, json_schema_extra={"title": title, **extra})


def town_field() -> Any:
    return required("乡镇", "从台账中选择乡镇", enum=TOWNS)


def level_field() -> Any:
    """A level, or 「按预警确定」 (then the warning is needed)."""
    return titled(None, "响应级别", "Ⅳ级（最低）至Ⅰ级；选「按预警确定」时须填写预警")


def warning_field() -> Any:
    return titled(None, "预警", "预警信息（人工启动可不填）")


def drill_field() -> Any:
    return titled(False, "演练", "演练：所有通知和报告标注【演练】")


def locale_field() -> Any:
    return titled(DEFAULT_LOCALE, "语言", "zh-CN（中文）或 en（英文）")


def plan_field() -> Any:
    return titled("flood", "预案", "config/plans/ 下的预案名称（防汛：flood）")


def quick_run(**more: Any) -> dict[str, Any]:
    """What Quick run and the custom-run form start with: the town when only one is
    configured (with several, the officer picks one: Quick run is refused with
    「town is a required property」 instead of starting the wrong town), and ``more``."""
    return ({"town": TOWNS[0]} if len(TOWNS) == 1 else {}) | more

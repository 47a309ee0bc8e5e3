"""Form fields the flows share, titled in Chinese for the control room.

Prefect replaces a top-level parameter's ``title`` with its name, so the title
rides in ``json_schema_extra`` (see PREFECT-NOTES).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sanqing.registry import town_choices, town_names
from sanqing.settings import DEFAULT_LOCALE, DEFAULT_TOWN

#: The town picker of the forms: the registry's towns (names first), codes still accepted.
TOWNS = town_choices() or [DEFAULT_TOWN]
#: Key, code or name → the town's name: a run started by code is still named 鸡峰镇.
TOWN_NAMES = town_names()


def titled(default: Any, title: str, description: str, **extra: Any) -> Any:
    """A form field with a Chinese title and a plain-words description."""
    return Field(default, description=description, json_schema_extra={"title": title, **extra})


def town_field() -> Any:
    return titled(TOWNS[0], "乡镇", "乡镇（从台账中选择；也可用区划代码）", enum=TOWNS)


def locale_field() -> Any:
    return titled(DEFAULT_LOCALE, "语言", "zh-CN 或 en")


def plan_field() -> Any:
    return titled("flood", "预案", "config/plans/ 下的预案")

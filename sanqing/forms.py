"""Choices for the control room's forms: the value a code, the label Chinese.

Prefect's UI (v2) shows a ``oneOf`` as tabs titled by the labels; a tab sets its
branch's ``default``, so each branch carries its code as the default (without it
the tab looks chosen and nothing is sent: a level picked as 「Ⅱ级」 started a run
with no level, seen in Chromium). Tabs suit a few choices (levels, statuses,
villages); a long list (a village's households) is a select: a plain ``enum`` of
labels that end with the code in brackets, 「石门村 张三（621221106202-H0001）」, the
code read back by ``code_in``. The server checks an answer against the same schema,
so a value not offered is refused before the run sees it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sanqing.labels import label


def one_of(options: Mapping[str, str], **extra: Any) -> dict[str, Any]:
    """JSON schema of a choice among ``options`` (code → label), in the given order."""
    return {
        "oneOf": [
            {"type": "string", "const": code, "default": code, "title": text}
            for code, text in options.items()
        ],
        **extra,
    }


def pick_list(options: Mapping[str, str]) -> dict[str, Any]:
    """JSON schema of a long choice: a select of the labels (each ending 「（code）」)."""
    return {"type": "string", "enum": list(options.values())}


#: The code at the end of a ``pick_list`` label: 「…（621221106202-H0001）」.
_CODE_AT_END = re.compile(r"（([^（）]+)）$")


def code_in(value: str) -> str:
    """The code a ``pick_list`` label ends with; anything else (a code) as it is."""
    found = _CODE_AT_END.search(value.strip())
    return found.group(1) if found else value


def one_of_or_none(options: Mapping[str, str], none_title: str) -> dict[str, Any]:
    """``one_of`` plus an empty choice titled ``none_title`` (one select, no switch)."""
    return {"oneOf": [*one_of(options)["oneOf"], {"type": "null", "title": none_title}]}


def labelled(group: str, codes: list[str], locale: str = "zh-CN") -> dict[str, str]:
    """Code → its label in ``group`` (sanqing.labels), for ``one_of``."""
    return {code: label(locale, group, code) for code in codes}

"""Choices for the control room's forms: the value a code, the label Chinese.

Prefect's UI (v2) shows a ``oneOf`` of ``{"const": code, "title": label}`` as one
select listing the labels, and sends the chosen ``const``; a plain ``enum`` would
show the codes themselves (IV, in_shelter). The server checks an answer against
the same schema, so a value not offered is refused before the run sees it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sanqing.labels import label


def one_of(options: Mapping[str, str], **extra: Any) -> dict[str, Any]:
    """JSON schema of a choice among ``options`` (code → label), in the given order."""
    return {"oneOf": [{"const": code, "title": text} for code, text in options.items()], **extra}


def one_of_or_none(options: Mapping[str, str], none_title: str) -> dict[str, Any]:
    """``one_of`` plus an empty choice titled ``none_title`` (one select, no switch)."""
    return {"oneOf": [*one_of(options)["oneOf"], {"type": "null", "title": none_title}]}


def labelled(group: str, codes: list[str], locale: str = "zh-CN") -> dict[str, str]:
    """Code → its label in ``group`` (sanqing.labels), for ``one_of``."""
    return {code: label(locale, group, code) for code in codes}

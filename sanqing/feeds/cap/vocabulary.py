"""CAP's open vocabularies and the meaning sanqing reads out of them and out of text.

Status, msgType, severity and event codes are kept as published; hazard and colour
are read from event codes, headlines and level words (蓝色/黄色/橙色/红色, Ⅳ–Ⅰ级).
Shared with the QWeather adapter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sanqing.plans import Colour

CAP_NAMESPACES = {
    "urn:oasis:names:tc:emergency:cap:1.2": "1.2",
    "urn:oasis:names:tc:emergency:cap:1.1": "1.1",
}
ATOM_NS = "http://www.w3.org/2005/Atom"
CAP_MEDIA_TYPES = {"application/cap+xml", "application/common-alerting-protocol+xml"}

KNOWN_STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
LIFECYCLE_MSG_TYPES = ("Alert", "Update", "Cancel")
OTHER_MSG_TYPES = ("Ack", "Error")
KNOWN_SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")

SEVERITY_COLOURS: dict[str, Colour] = {
    "minor": Colour.BLUE,
    "moderate": Colour.YELLOW,
    "severe": Colour.ORANGE,
    "extreme": Colour.RED,
}

# Event codes of national (China) CAP feeds whose meaning is certain enough to use.
EVENT_CODE_HAZARDS: dict[str, str] = {
    "11B03": "rainstorm",  # 暴雨
}

_HAZARD_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("rainstorm", ("暴雨", "rainstorm", "heavy rain")),
    (
        "geological",
        (
            "地质灾害",
            "geological",
            "landslide",
            "滑坡",
            "泥石流",
            "崩塌",
            "debris flow",
            "mudslide",
        ),
    ),
    ("flood", ("山洪", "洪水", "洪涝", "内涝", "渍涝", "flood", "waterlogging")),
)

_COLOUR_PATTERN = re.compile(r"蓝色|黄色|橙色|红色|\b(?:blue|yellow|orange|red)\b", re.IGNORECASE)
_COLOUR_WORDS: dict[str, Colour] = {
    "蓝色": Colour.BLUE,
    "黄色": Colour.YELLOW,
    "橙色": Colour.ORANGE,
    "红色": Colour.RED,
    "blue": Colour.BLUE,
    "yellow": Colour.YELLOW,
    "orange": Colour.ORANGE,
    "red": Colour.RED,
}
# Geological-hazard meteorological risk warnings count levels 4 (lowest) → 1 (highest).
_LEVEL_PATTERN = re.compile(
    r"(?:风险)?([一二三四1-4]|Ⅰ|Ⅱ|Ⅲ|Ⅳ|IV|III|II|I)\s*级|\blevel\s*([1-4]|IV|III|II|I)\b",
    re.IGNORECASE,
)
_LEVEL_COLOURS: dict[str, Colour] = {
    "四": Colour.BLUE,
    "4": Colour.BLUE,
    "Ⅳ": Colour.BLUE,
    "IV": Colour.BLUE,
    "三": Colour.YELLOW,
    "3": Colour.YELLOW,
    "Ⅲ": Colour.YELLOW,
    "III": Colour.YELLOW,
    "二": Colour.ORANGE,
    "2": Colour.ORANGE,
    "Ⅱ": Colour.ORANGE,
    "II": Colour.ORANGE,
    "一": Colour.RED,
    "1": Colour.RED,
    "Ⅰ": Colour.RED,
    "I": Colour.RED,
}


_COLOUR_RANK: dict[Colour, int] = {
    Colour.BLUE: 1,
    Colour.YELLOW: 2,
    Colour.ORANGE: 3,
    Colour.RED: 4,
}


def hazard_from_text(*texts: str) -> str | None:
    """rainstorm / geological / flood from the first text that names one, else None."""
    for text in texts:
        low = text.lower()
        for hazard, words in _HAZARD_WORDS:
            if any(word in low for word in words):
                return hazard
    return None


def colour_from_text(*texts: str) -> tuple[Colour | None, list[str]]:
    """The warning colour named by the first text that names one, and notes.

    When a text names several colours ("黄色预警升级为橙色预警") the one named
    last is taken, with a note.
    """
    notes: list[str] = []
    for text in texts:
        found = [_COLOUR_WORDS[m.group(0).lower()] for m in _COLOUR_PATTERN.finditer(text)]
        if not found:
            continue
        if len(set(found)) > 1:
            notes.append(
                f"text {text!r} names several colours ({', '.join(c.value for c in found)});"
                f" took the last, {found[-1].value}"
            )
        return found[-1], notes
    return None, notes


def colour_from_level(*texts: str) -> Colour | None:
    """Colour of a geological-hazard risk level (四级/level 4 = blue … 一级/level 1 = red)."""
    for text in texts:
        matches = list(_LEVEL_PATTERN.finditer(text))
        if matches:
            m = matches[-1]
            key = (m.group(1) or m.group(2) or "").upper()
            colour = _LEVEL_COLOURS.get(key)
            if colour is not None:
                return colour
    return None


def colour_from_severity(severity: str) -> Colour | None:
    """CAP severity → colour: Minor blue, Moderate yellow, Severe orange, Extreme red."""
    return SEVERITY_COLOURS.get(severity.strip().lower())


def decide_colour(
    texts: Sequence[str], severity: str, hazard: str | None, notes: list[str]
) -> Colour | None:
    """Colour from the texts, else the geological risk level, else the severity."""
    colour, text_notes = colour_from_text(*texts)
    notes.extend(text_notes)
    if colour is None and hazard == "geological":
        colour = colour_from_level(*texts)
    by_severity = colour_from_severity(severity)
    if colour is None:
        if by_severity is not None:
            notes.append(f"colour taken from severity {severity}: {by_severity.value}")
        return by_severity
    if by_severity is not None and by_severity is not colour:
        notes.append(
            f"colour {colour.value} from the text differs from severity {severity}"
            f" ({by_severity.value}); kept {colour.value}"
        )
    return colour


def colour_rank(colour: Colour | None) -> int:
    return _COLOUR_RANK[colour] if colour is not None else 0

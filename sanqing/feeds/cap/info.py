"""The ``<info>`` blocks of a CAP alert: each read on its own, then merged into one warning.

Headline, description and language come from the preferred block (zh-CN); hazard and
colour from the block with the flood-plan hazard of the strongest colour; areas,
response types, onset (earliest) and expiry (latest) are merged over all blocks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element

from sanqing.errors import CapError
from sanqing.feeds.cap.geometry import parse_circle, parse_polygon
from sanqing.feeds.cap.vocabulary import (
    EVENT_CODE_HAZARDS,
    KNOWN_SEVERITIES,
    colour_rank,
    decide_colour,
    hazard_from_text,
)
from sanqing.feeds.cap.xml import children, parse_cap_time, text_of
from sanqing.plans import Colour


def choose_info(infos: Sequence[Element]) -> Element | None:
    """The ``<info>`` to display: zh-CN, else any zh*, else the first (CAP default language en-US)."""
    if not infos:
        return None
    langs = [(text_of(i, "language") or "en-US").lower() for i in infos]
    for want in ("zh-cn", "zh-hans-cn", "zh-hans"):
        for info, lang in zip(infos, langs, strict=True):
            if lang == want:
                return info
    for info, lang in zip(infos, langs, strict=True):
        if lang.startswith("zh"):
            return info
    return infos[0]


@dataclass
class InfoBlock:
    """What one ``<info>`` block says, before the blocks are merged."""

    index: int
    display: bool
    language: str
    event: str
    event_code: str
    severity: str
    headline: str
    description: str
    hazard: str | None
    colour: Colour | None
    meaning_notes: list[str]  # what was made of its event, hazard and colour
    onset: datetime | None = None
    expires: datetime | None = None
    response_types: list[str] = field(default_factory=list)
    area_descs: list[str] = field(default_factory=list)
    polygons: list[list[tuple[float, float]]] = field(default_factory=list)
    circles: list[tuple[float, float, float]] = field(default_factory=list)
    geocodes: list[tuple[str, str]] = field(default_factory=list)
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (element, reason)

    @property
    def label(self) -> str:
        return f"<info> {self.index} ({self.language})"


def parse_info(info: Element, index: int, notes: list[str], *, display: bool) -> InfoBlock:
    """What one ``<info>`` block says: its meaning, times, response types and areas."""
    block = _read_meaning(info, index, display=display)
    # A bad time where it matters (the display block, a flood hazard) refuses the alert;
    # in another block it only loses that time.
    strict = display or block.hazard is not None
    block.onset = _info_time(info, "onset", block, notes, strict=strict)
    if block.onset is None:
        block.onset = _info_time(info, "effective", block, notes, strict=strict)
    block.expires = _info_time(info, "expires", block, notes, strict=strict)
    block.response_types = [
        (r.text or "").strip() for r in children(info, "responseType") if (r.text or "").strip()
    ]
    _read_areas(info, block, notes)
    return block


def _read_meaning(info: Element, index: int, *, display: bool) -> InfoBlock:
    """The block's language, texts, event codes, and the hazard and colour they mean."""
    language = text_of(info, "language") or "en-US"
    event = text_of(info, "event")
    codes: list[tuple[str, str]] = []
    for ec in children(info, "eventCode"):
        codes.append((text_of(ec, "valueName"), text_of(ec, "value")))
    event_code = next((v for _, v in codes if v), "")
    severity = text_of(info, "severity")
    headline = text_of(info, "headline")
    meaning: list[str] = []
    if severity and severity not in KNOWN_SEVERITIES:
        meaning.append(f"unknown <severity> {severity!r}; kept as published")

    hazard = next((EVENT_CODE_HAZARDS[v] for _, v in codes if v in EVENT_CODE_HAZARDS), None)
    if hazard is None:
        hazard = hazard_from_text(event, *(f"{n} {v}" for n, v in codes), headline)
    if hazard is None:
        meaning.append(
            f"event {event!r} (code {event_code or '-'}) is not a flood-plan hazard"
            " (rainstorm, geological, flood)"
        )
    colour = decide_colour([event, headline, *(v for _, v in codes)], severity, hazard, meaning)
    return InfoBlock(
        index=index,
        display=display,
        language=language,
        event=event,
        event_code=event_code,
        severity=severity,
        headline=headline,
        description=text_of(info, "description"),
        hazard=hazard,
        colour=colour,
        meaning_notes=meaning,
    )


def _info_time(
    info: Element, name: str, block: InfoBlock, notes: list[str], *, strict: bool
) -> datetime | None:
    """A time of the block; a bad one refuses the alert when ``strict``, else it is noted."""
    value = text_of(info, name)
    if not value:
        return None
    try:
        return parse_cap_time(value, name, notes)
    except CapError as exc:
        if strict:
            raise
        notes.append(f"{block.label} {exc}; ignored")
        return None


def _read_areas(info: Element, block: InfoBlock, notes: list[str]) -> None:
    """The block's ``<area>``s: descriptions, polygons, circles and geocodes; bad shapes dropped."""
    for area in children(info, "area"):
        desc = text_of(area, "areaDesc")
        if desc:
            block.area_descs.append(desc)
        else:
            notes.append("<area> without <areaDesc> (CAP requires it)")
        for p in children(area, "polygon"):
            try:
                block.polygons.append(parse_polygon(p.text or "", notes))
            except CapError as exc:
                block.dropped.append((exc.element, exc.reason))
                notes.append(f"{exc}; polygon dropped")
        for c in children(area, "circle"):
            try:
                block.circles.append(parse_circle(c.text or ""))
            except CapError as exc:
                block.dropped.append((exc.element, exc.reason))
                notes.append(f"{exc}; circle dropped")
        for g in children(area, "geocode"):
            name, value = text_of(g, "valueName"), text_of(g, "value")
            if not value:
                notes.append(f"<geocode> {name!r} without a value; skipped")
                continue
            block.geocodes.append((name, value))


def merge_infos(blocks: Sequence[InfoBlock], notes: list[str]) -> dict[str, Any]:
    """One warning from all ``<info>`` blocks (the rules: the module docstring)."""
    display = next(b for b in blocks if b.display)
    flood = [b for b in blocks if b.hazard is not None]
    # the strongest colour; on a tie the display block, then the first
    meaning = (
        max(flood, key=lambda b: (colour_rank(b.colour), b.display, -b.index)) if flood else display
    )
    notes.extend(meaning.meaning_notes)
    # display first, so a single-language reader sees its own areas first
    ordered = [display, *(b for b in blocks if b is not display)]
    onsets = [b.onset for b in blocks if b.onset is not None]
    expiries = [b.expires for b in blocks if b.expires is not None]
    merged: dict[str, Any] = {
        "language": display.language,
        "headline": display.headline,
        "description": display.description,
        "event": meaning.event,
        "event_code": meaning.event_code,
        "severity": meaning.severity,
        "hazard": meaning.hazard,
        "colour": meaning.colour,
        "onset": min(onsets) if onsets else None,
        "expires": max(expiries) if expiries else None,
        "response_types": unique(r for b in ordered for r in b.response_types),
        "area_desc": "、".join(unique(d for b in ordered for d in b.area_descs)),
        "polygons": [list(r) for r in dict.fromkeys(tuple(r) for b in ordered for r in b.polygons)],
        "circles": list(dict.fromkeys(c for b in ordered for c in b.circles)),
        "geocodes": list(dict.fromkeys(g for b in ordered for g in b.geocodes)),
    }
    if len(blocks) == 1:
        return merged
    langs = ", ".join(b.language for b in blocks)
    notes.append(f"{len(blocks)} <info> blocks ({langs}); showing {display.language}")
    if meaning is not display:
        notes.append(
            f"hazard {meaning.hazard} and colour"
            f" {meaning.colour.value if meaning.colour else 'unknown'} taken from"
            f" {meaning.label} ({meaning.event or meaning.headline!r}), the strongest of the"
            f" blocks; headline and description from {display.label}"
        )
    others = [
        b.label
        for b in blocks
        if b is not display and (b.area_descs or b.geocodes or b.polygons or b.circles)
    ]
    if others:
        notes.append(f"areas are the union of all <info> blocks (also from {', '.join(others)})")
    if len(set(onsets)) > 1:
        notes.append(
            f"<info> blocks give different onsets; took the earliest, {min(onsets).isoformat()}"
        )
    if len(set(expiries)) > 1:
        notes.append(
            f"<info> blocks give different expiry times; took the latest, {max(expiries).isoformat()}"
        )
    if len({tuple(b.response_types) for b in blocks}) > 1:
        notes.append("<responseType>s are the union of all <info> blocks")
    return merged


def unique(items: Iterable[str]) -> list[str]:
    """The items without repeats, in their first order."""
    return list(dict.fromkeys(items))

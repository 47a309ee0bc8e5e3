"""A CAP 1.2 / 1.1 ``<alert>`` as a :class:`FeedWarning`: infos merged, references, areas.

Several ``<info>`` blocks: headline, description and language come from the
preferred block (zh-CN); hazard and colour from the block with the flood-plan hazard
of the strongest colour; areas, response types, onset (earliest) and expiry (latest)
are merged over all blocks. A bad polygon or circle is dropped with a note; the
alert is refused only when it is then left with no usable area at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element

from pydantic import ValidationError

from sanqing.errors import (
    CapError,
)
from sanqing.feeds.cap.vocabulary import (
    CAP_NAMESPACES,
    EVENT_CODE_HAZARDS,
    KNOWN_SEVERITIES,
    KNOWN_STATUSES,
    LIFECYCLE_MSG_TYPES,
    OTHER_MSG_TYPES,
    colour_rank,
    decide_colour,
    hazard_from_text,
)
from sanqing.feeds.cap.xml import children, parse_cap_time, split_tag, text_of
from sanqing.feeds.model import (
    FeedWarning,
    ParseFailure,
    Reference,
    SourceFormat,
)
from sanqing.plans import Colour

# ----------------------------------------------------------------------- alert


def parse_alert_element(root: Element, *, source: str) -> FeedWarning:
    """One CAP ``<alert>`` element → :class:`FeedWarning`; a :class:`CapError` if it breaks CAP."""
    ns, local = split_tag(root.tag)
    if local != "alert":
        raise CapError(local, "is not a CAP <alert>")
    if ns not in CAP_NAMESPACES:
        raise CapError(
            "alert", f"namespace {ns!r} is not CAP 1.2 or 1.1 ({', '.join(CAP_NAMESPACES)})"
        )
    notes: list[str] = []

    def required(name: str) -> str:
        value = text_of(root, name)
        if not value:
            raise CapError(name, "is missing or empty; CAP requires it")
        return value

    identifier = required("identifier")
    sent = parse_cap_time(required("sent"), "sent", notes)
    status = required("status")
    msg_type = required("msgType")
    sender = text_of(root, "sender")
    if not sender:
        notes.append("<sender> is missing (CAP requires it)")
    if status not in KNOWN_STATUSES:
        notes.append(f"unknown <status> {status!r}; kept as published")
    if msg_type in OTHER_MSG_TYPES:
        notes.append(f"<msgType> {msg_type} is not part of a warning's lifecycle")
    elif msg_type not in LIFECYCLE_MSG_TYPES:
        notes.append(f"unknown <msgType> {msg_type!r}; kept as published")

    references = parse_references(text_of(root, "references"), notes)
    if msg_type in ("Update", "Cancel") and not references:
        notes.append(f"{msg_type} without <references>: it supersedes nothing")

    infos = children(root, "info")
    display = choose_info(infos)
    fields: dict[str, Any] = {}
    if display is None:
        if msg_type == "Alert":
            notes.append("alert without <info>: no event, colour or area")
    else:
        blocks = [
            _parse_info(info, n, notes, display=info is display)
            for n, info in enumerate(infos, start=1)
        ]
        fields = _merge_infos(blocks, notes)
        dropped = [d for b in blocks for d in b.dropped]
        if dropped and not (
            fields["geocodes"] or fields["polygons"] or fields["circles"] or fields["area_desc"]
        ):
            element, reason = dropped[0]
            raise CapError(element, f"{reason}; the alert has no other usable area")

    return FeedWarning(
        identifier=identifier,
        sender=sender,
        sent=sent,
        source_format=SourceFormat.CAP,
        source=source,
        msg_type=msg_type,
        status=status,
        references=references,
        notes=notes,
        **fields,
    )


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


_REF_TIME_TAIL = re.compile(r"^\d{2}:\d{2}")


def parse_references(text: str, notes: list[str] | None = None) -> list[Reference]:
    """CAP ``references``: space-separated ``sender,identifier,sent`` triples.

    An entry without an identifier is a :class:`CapError`. A missing or
    malformed ``sent`` part leaves ``sent`` None, with a note: sender and
    identifier are what name the message referred to.
    """
    items: list[str] = []
    for token in text.split():
        # "sender,id,2026-07-12 18:30:00+08:00": a space for 'T' splits the triple
        if items and "," not in token and items[-1].count(",") >= 2 and _REF_TIME_TAIL.match(token):
            items[-1] += " " + token
            continue
        items.append(token)
    refs: list[Reference] = []
    for item in items:
        parts = item.split(",")
        if len(parts) < 2 or not parts[1]:
            raise CapError(
                "references",
                f"entry {item!r} is not a sender,identifier,sent triple (no identifier)",
            )
        sent_text = ",".join(parts[2:]).strip()
        sent: datetime | None = None
        if not sent_text:
            if notes is not None:
                notes.append(
                    f"<references> entry {item!r} has no sent time; kept sender and identifier"
                )
        else:
            try:
                sent = parse_cap_time(sent_text, "references", notes)
            except CapError as exc:
                if notes is not None:
                    notes.append(
                        f"<references> entry {item!r}: {exc.reason}; kept sender and"
                        " identifier, sent left empty"
                    )
        refs.append(Reference(sender=parts[0], identifier=parts[1], sent=sent))
    return refs


@dataclass
class _Info:
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
    meaning_notes: list[str]
    onset: datetime | None
    expires: datetime | None
    response_types: list[str]
    area_descs: list[str] = field(default_factory=list)
    polygons: list[list[tuple[float, float]]] = field(default_factory=list)
    circles: list[tuple[float, float, float]] = field(default_factory=list)
    geocodes: list[tuple[str, str]] = field(default_factory=list)
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (element, reason)

    @property
    def label(self) -> str:
        return f"<info> {self.index} ({self.language})"


def _parse_info(info: Element, index: int, notes: list[str], *, display: bool) -> _Info:
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

    # A bad time where it matters (the display block, a flood hazard) refuses the alert;
    # in another block it only loses that time.
    strict = display or hazard is not None

    def time(name: str) -> datetime | None:
        value = text_of(info, name)
        if not value:
            return None
        try:
            return parse_cap_time(value, name, notes)
        except CapError as exc:
            if strict:
                raise
            notes.append(f"<info> {index} ({language}) {exc}; ignored")
            return None

    onset = time("onset")
    if onset is None:
        onset = time("effective")
    expires = time("expires")

    block = _Info(
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
        onset=onset,
        expires=expires,
        response_types=[
            (r.text or "").strip() for r in children(info, "responseType") if (r.text or "").strip()
        ],
    )
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
    return block


def _merge_infos(blocks: Sequence[_Info], notes: list[str]) -> dict[str, Any]:
    """One warning from all ``<info>`` blocks (see the module docstring for the rules)."""
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


def _point(pair: str, element: str) -> tuple[float, float]:
    lat_s, sep, lon_s = pair.partition(",")
    try:
        if not sep:
            raise ValueError
        lat, lon = float(lat_s), float(lon_s)
    except ValueError:
        raise CapError(element, f"point {pair!r} is not a lat,lon pair") from None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise CapError(element, f"point {pair!r} is out of range (lat ±90, lon ±180)")
    return lat, lon


def parse_polygon(text: str, notes: list[str]) -> list[tuple[float, float]]:
    """A CAP polygon: ≥ 4 space-separated ``lat,lon`` pairs, the first equal to the last."""
    ring = [_point(pair, "polygon") for pair in text.split()]
    if len(ring) < 4:
        raise CapError(
            "polygon", f"has {len(ring)} lat,lon pair(s); CAP requires at least 4 (a closed ring)"
        )
    if ring[0] != ring[-1]:
        notes.append("<polygon> was not closed (first pair ≠ last); closed it")
        ring.append(ring[0])
    return ring


def parse_circle(text: str) -> tuple[float, float, float]:
    """A CAP circle ``lat,lon radius_km``."""
    parts = text.split()
    if len(parts) != 2:
        raise CapError("circle", f"{text.strip()!r} is not 'lat,lon radius_km'")
    lat, lon = _point(parts[0], "circle")
    try:
        radius = float(parts[1])
    except ValueError:
        raise CapError("circle", f"radius {parts[1]!r} is not a number of km") from None
    if not radius >= 0.0 or radius == float("inf"):
        raise CapError("circle", f"radius {parts[1]!r} must be a finite number ≥ 0 km")
    return lat, lon, radius


def parse_failure(source: str, identifier: str | None, reason: str) -> ParseFailure:
    return ParseFailure(source=source, identifier=identifier, reason=f"{source}: {reason}")


def alert_result(elem: Element, source: str) -> tuple[FeedWarning | None, ParseFailure | None]:
    try:
        return parse_alert_element(elem, source=source), None
    except CapError as exc:
        return None, parse_failure(source, text_of(elem, "identifier") or None, f"CAP alert {exc}")
    except ValidationError as exc:
        return None, parse_failure(
            source, text_of(elem, "identifier") or None, f"CAP alert is invalid: {exc}"
        )


def unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))

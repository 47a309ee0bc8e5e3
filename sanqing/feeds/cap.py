"""CAP 1.2 / 1.1 alerts (OASIS Common Alerting Protocol) and the Atom / RSS indexes that list them.

XML is parsed with :mod:`defusedxml` only, with DTDs, entity declarations and
external references all forbidden: a document carrying any of them is refused
with a reason that says which (external entity, entity expansion, DTD).

The standard's formats are enforced:

* times are ``YYYY-MM-DDThh:mm:ss±hh:mm`` (an offset is required; CAP forbids ``Z``);
* ``references`` are space-separated ``sender,identifier,sent`` triples;
* polygons are space-separated ``lat,lon`` pairs, closed, at least 4 pairs
  (an unclosed ring is closed and noted; fewer than 4 pairs is an error);
* circles are ``lat,lon radius_km``.

Open vocabularies (status, msgType, severity, event codes) are kept as
published; a value sanqing does not know becomes a note, never a crash.

The helpers that read meaning out of text (:func:`hazard_from_text`,
:func:`colour_from_text`, :func:`colour_from_severity`) are shared with the
QWeather adapter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from pydantic import ValidationError

from sanqing.errors import SanqingError
from sanqing.feeds.model import FeedWarning, ParseFailure, ParseResult, Reference, SourceFormat
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

_CAP_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?[+-]\d{2}:\d{2}$")
_ENTITY_DECL = re.compile(rb"<!ENTITY\s+(%\s*)?[^\s>]+\s+(SYSTEM|PUBLIC)?", re.IGNORECASE)


class CapError(SanqingError, ValueError):
    """A CAP alert (or feed index) breaks the standard; the message names the element."""

    def __init__(self, element: str, reason: str) -> None:
        super().__init__(f"<{element}>: {reason}")
        self.element = element
        self.reason = reason


# --------------------------------------------------------------------- meaning


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


# ----------------------------------------------------------------------- times


def parse_cap_time(text: str | None, element: str) -> datetime:
    """A CAP time ``YYYY-MM-DDThh:mm:ss±hh:mm``; anything else is a :class:`CapError`."""
    value = (text or "").strip()
    if not value:
        raise CapError(element, "is empty; a time YYYY-MM-DDThh:mm:ss±hh:mm is required")
    if not _CAP_TIME.match(value):
        raise CapError(
            element,
            f"time {value!r} is not in the CAP format YYYY-MM-DDThh:mm:ss±hh:mm"
            " (the offset from UTC is required)",
        )
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise CapError(element, f"time {value!r} is not a valid date/time: {exc}") from None


# ------------------------------------------------------------------------- XML


def load_xml(data: bytes) -> Element:
    """Parse XML safely; hostile or broken XML is a :class:`CapError` naming the problem."""
    try:
        root: Element = SafeET.fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DTDForbidden:
        decls = _ENTITY_DECL.findall(data)
        if any(external for _, external in decls):
            what = "an external entity (SYSTEM/PUBLIC) — refused, sanqing never reads files or URLs an XML document names"
        elif decls:
            what = "entities (entity expansion such as 'billion laughs') — refused"
        else:
            what = "a DTD — refused"
        raise CapError("!DOCTYPE", f"the document declares {what}") from None
    except EntitiesForbidden as exc:
        raise CapError(
            "!ENTITY", f"entity declaration {exc.name!r} refused (entity expansion)"
        ) from None
    except ExternalReferenceForbidden as exc:
        raise CapError(
            "!ENTITY", f"external reference {exc.sysid!r} refused (external entity)"
        ) from None
    except ParseError as exc:
        raise CapError("document", f"not well-formed XML: {exc}") from None
    return root


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def _children(elem: Element, name: str) -> list[Element]:
    return [c for c in elem if _split(c.tag)[1] == name]


def _child(elem: Element, name: str) -> Element | None:
    for c in elem:
        if _split(c.tag)[1] == name:
            return c
    return None


def _text(elem: Element, name: str) -> str:
    c = _child(elem, name)
    return (c.text or "").strip() if c is not None else ""


# ----------------------------------------------------------------------- alert


def parse_alert_element(root: Element, *, source: str) -> FeedWarning:
    """One CAP ``<alert>`` element → :class:`FeedWarning`; a :class:`CapError` if it breaks CAP."""
    ns, local = _split(root.tag)
    if local != "alert":
        raise CapError(local, "is not a CAP <alert>")
    if ns not in CAP_NAMESPACES:
        raise CapError(
            "alert", f"namespace {ns!r} is not CAP 1.2 or 1.1 ({', '.join(CAP_NAMESPACES)})"
        )
    notes: list[str] = []

    def required(name: str) -> str:
        value = _text(root, name)
        if not value:
            raise CapError(name, "is missing or empty; CAP requires it")
        return value

    identifier = required("identifier")
    sent = parse_cap_time(required("sent"), "sent")
    status = required("status")
    msg_type = required("msgType")
    sender = _text(root, "sender")
    if not sender:
        notes.append("<sender> is missing (CAP requires it)")
    if status not in KNOWN_STATUSES:
        notes.append(f"unknown <status> {status!r}; kept as published")
    if msg_type in OTHER_MSG_TYPES:
        notes.append(f"<msgType> {msg_type} is not part of a warning's lifecycle")
    elif msg_type not in LIFECYCLE_MSG_TYPES:
        notes.append(f"unknown <msgType> {msg_type!r}; kept as published")

    references = parse_references(_text(root, "references"))
    if msg_type in ("Update", "Cancel") and not references:
        notes.append(f"{msg_type} without <references>: it supersedes nothing")

    infos = _children(root, "info")
    info = choose_info(infos)
    fields: dict[str, Any] = {}
    if info is None:
        if msg_type == "Alert":
            notes.append("alert without <info>: no event, colour or area")
    else:
        fields = _parse_info(info, notes)
        if len(infos) > 1:
            langs = [_text(i, "language") or "en-US" for i in infos]
            notes.append(
                f"{len(infos)} <info> blocks ({', '.join(langs)}); showing {fields['language']}"
            )

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
    langs = [(_text(i, "language") or "en-US").lower() for i in infos]
    for want in ("zh-cn", "zh-hans-cn", "zh-hans"):
        for info, lang in zip(infos, langs, strict=True):
            if lang == want:
                return info
    for info, lang in zip(infos, langs, strict=True):
        if lang.startswith("zh"):
            return info
    return infos[0]


def parse_references(text: str) -> list[Reference]:
    """CAP ``references``: space-separated ``sender,identifier,sent`` triples."""
    refs: list[Reference] = []
    for item in text.split():
        parts = item.split(",")
        if len(parts) != 3 or not parts[1]:
            raise CapError(
                "references",
                f"entry {item!r} is not a sender,identifier,sent triple",
            )
        refs.append(
            Reference(
                sender=parts[0],
                identifier=parts[1],
                sent=parse_cap_time(parts[2], "references"),
            )
        )
    return refs


def _parse_info(info: Element, notes: list[str]) -> dict[str, Any]:
    language = _text(info, "language") or "en-US"
    event = _text(info, "event")
    codes: list[tuple[str, str]] = []
    for ec in _children(info, "eventCode"):
        codes.append((_text(ec, "valueName"), _text(ec, "value")))
    event_code = next((v for _, v in codes if v), "")
    severity = _text(info, "severity")
    headline = _text(info, "headline")
    if severity and severity not in KNOWN_SEVERITIES:
        notes.append(f"unknown <severity> {severity!r}; kept as published")

    hazard = next((EVENT_CODE_HAZARDS[v] for _, v in codes if v in EVENT_CODE_HAZARDS), None)
    if hazard is None:
        hazard = hazard_from_text(event, *(f"{n} {v}" for n, v in codes), headline)
    if hazard is None:
        notes.append(
            f"event {event!r} (code {event_code or '-'}) is not a flood-plan hazard"
            " (rainstorm, geological, flood)"
        )
    colour = decide_colour([event, headline, *(v for _, v in codes)], severity, hazard, notes)

    onset_text = _text(info, "onset")
    onset = parse_cap_time(onset_text, "onset") if onset_text else None
    if onset is None and _text(info, "effective"):
        onset = parse_cap_time(_text(info, "effective"), "effective")
    expires_text = _text(info, "expires")
    expires = parse_cap_time(expires_text, "expires") if expires_text else None

    area_descs: list[str] = []
    polygons: list[list[tuple[float, float]]] = []
    circles: list[tuple[float, float, float]] = []
    geocodes: list[tuple[str, str]] = []
    for area in _children(info, "area"):
        desc = _text(area, "areaDesc")
        if desc:
            area_descs.append(desc)
        else:
            notes.append("<area> without <areaDesc> (CAP requires it)")
        for p in _children(area, "polygon"):
            polygons.append(parse_polygon(p.text or "", notes))
        for c in _children(area, "circle"):
            circles.append(parse_circle(c.text or ""))
        for g in _children(area, "geocode"):
            name, value = _text(g, "valueName"), _text(g, "value")
            if not value:
                notes.append(f"<geocode> {name!r} without a value; skipped")
                continue
            geocodes.append((name, value))

    return {
        "language": language,
        "event": event,
        "event_code": event_code,
        "hazard": hazard,
        "colour": colour,
        "severity": severity,
        "headline": headline,
        "description": _text(info, "description"),
        "onset": onset,
        "expires": expires,
        "response_types": [
            (r.text or "").strip()
            for r in _children(info, "responseType")
            if (r.text or "").strip()
        ],
        "area_desc": "、".join(area_descs),
        "polygons": polygons,
        "circles": circles,
        "geocodes": geocodes,
    }


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


def _failure(source: str, identifier: str | None, reason: str) -> ParseFailure:
    return ParseFailure(source=source, identifier=identifier, reason=f"{source}: {reason}")


def _alert_result(elem: Element, source: str) -> tuple[FeedWarning | None, ParseFailure | None]:
    try:
        return parse_alert_element(elem, source=source), None
    except CapError as exc:
        return None, _failure(source, _text(elem, "identifier") or None, f"CAP alert {exc}")
    except ValidationError as exc:
        return None, _failure(
            source, _text(elem, "identifier") or None, f"CAP alert is invalid: {exc}"
        )


def parse_cap(data: bytes, *, source: str) -> ParseResult:
    """A CAP ``<alert>`` document, an Atom feed or an RSS 2.0 index → :class:`ParseResult`.

    Never raises for bad input: every problem is a :class:`ParseFailure`.
    """
    try:
        root = load_xml(data)
    except CapError as exc:
        return ParseResult(failures=[_failure(source, None, f"XML refused: {exc}")])
    ns, local = _split(root.tag)
    if local == "alert":
        warning, failure = _alert_result(root, source)
        return ParseResult(
            warnings=[warning] if warning else [], failures=[failure] if failure else []
        )
    if local == "feed" and ns == ATOM_NS:
        return _parse_atom(root, source)
    if local == "rss":
        return _parse_rss(root, source)
    return ParseResult(
        failures=[
            _failure(
                source,
                None,
                f"<{local}> (namespace {ns or 'none'!r}) is neither a CAP <alert>, an Atom <feed> nor an RSS <rss>",
            )
        ]
    )


# --------------------------------------------------------------------- indexes


def _is_url(text: str) -> bool:
    return urlparse(text).scheme in ("http", "https")


def resolve_link(href: str, base: str) -> str:
    """``href`` made absolute against the index ``base`` (a URL or a file path).

    A remote index may only point at http(s) URLs. A local index may point at
    URLs or at files: those come back as absolute paths.
    """
    href = href.strip()
    if not href:
        raise CapError("link", "is empty")
    scheme = urlparse(href).scheme
    if _is_url(base):
        resolved = urljoin(base, href)
        if not _is_url(resolved):
            raise CapError("link", f"{href!r} is not an http(s) URL (the index is remote)")
        return resolved
    if scheme in ("http", "https"):
        return href
    if scheme == "file":
        return str(Path(urlparse(href).path).resolve())
    if scheme and len(scheme) > 1:  # one letter: a Windows drive
        raise CapError("link", f"{href!r}: scheme {scheme!r} is not supported")
    return str((Path(base).resolve().parent / href).resolve())


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _parse_atom(feed: Element, source: str) -> ParseResult:
    result = ParseResult()
    links: list[str] = []
    for n, entry in enumerate(_children(feed, "entry"), start=1):
        content = _child(entry, "content")
        embedded = (
            [c for c in content if _split(c.tag)[1] == "alert"] if content is not None else []
        )
        if embedded:
            for elem in embedded:
                warning, failure = _alert_result(elem, f"{source}#entry{n}")
                if warning:
                    result.warnings.append(warning)
                if failure:
                    result.failures.append(failure)
            continue
        href = _atom_cap_link(entry, content)
        if href is None:
            ident = _text(entry, "id") or None
            result.failures.append(
                _failure(
                    source, ident, f"Atom <entry> {n} has no <link> or <content> with a CAP alert"
                )
            )
            continue
        try:
            links.append(resolve_link(href, source))
        except CapError as exc:
            result.failures.append(
                _failure(source, _text(entry, "id") or None, f"Atom entry {n} {exc}")
            )
    result.links = _unique(links)
    return result


def _atom_cap_link(entry: Element, content: Element | None) -> str | None:
    links = _children(entry, "link")
    for link in links:
        if link.get("type", "").lower() in CAP_MEDIA_TYPES and link.get("href"):
            return link.get("href")
    if content is not None and content.get("src"):
        return content.get("src")
    for link in links:
        if link.get("rel", "alternate") in ("alternate", "enclosure") and link.get("href"):
            return link.get("href")
    return None


def _parse_rss(rss: Element, source: str) -> ParseResult:
    result = ParseResult()
    channel = _child(rss, "channel")
    if channel is None:
        result.failures.append(_failure(source, None, "RSS <rss> without <channel>"))
        return result
    links: list[str] = []
    for n, item in enumerate(_children(channel, "item"), start=1):
        href = None
        for enc in _children(item, "enclosure"):
            if enc.get("type", "").lower() in CAP_MEDIA_TYPES and enc.get("url"):
                href = enc.get("url")
                break
        if href is None:
            href = _text(item, "link") or None
        if href is None:
            result.failures.append(
                _failure(source, _text(item, "guid") or None, f"RSS <item> {n} has no <link>")
            )
            continue
        try:
            links.append(resolve_link(href, source))
        except CapError as exc:
            result.failures.append(
                _failure(source, _text(item, "guid") or None, f"RSS item {n} {exc}")
            )
    result.links = _unique(links)
    return result

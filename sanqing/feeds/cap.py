"""CAP 1.2 / 1.1 alerts (OASIS Common Alerting Protocol) and the Atom / RSS indexes that list them.

XML is parsed with :mod:`defusedxml` only, with DTDs, entity declarations and
external references all forbidden: a document carrying any of them is refused
with a reason that says which (external entity, entity expansion, DTD).

The standard's formats are read, leniently where real feeds stray and no
meaning is lost:

* times are ``YYYY-MM-DDThh:mm:ss±hh:mm``; ``Z``, a missing seconds field,
  ``+0800`` offsets and a space for ``T`` are accepted with a note, but a time
  without any offset from UTC is an error;
* ``references`` are space-separated ``sender,identifier,sent`` triples; a
  missing or malformed ``sent`` leaves ``sent`` None with a note;
* polygons are space-separated ``lat,lon`` pairs, closed, at least 4 pairs
  (an unclosed ring is closed and noted); circles are ``lat,lon radius_km``.
  A bad polygon or circle is dropped with a note; the alert is refused only
  when it is then left with no usable area at all.

Documents declared in another encoding than UTF-8 (GB2312, GBK, GB18030 …)
or starting with a UTF-16 byte-order mark are decoded with Python's codecs
before parsing, since expat reads none of the multi-byte Chinese encodings.

Several ``<info>`` blocks: headline, description and language come from the
preferred block (zh-CN); hazard and colour from the block with the flood-plan
hazard of the strongest colour; areas, response types, onset (earliest) and
expiry (latest) are merged over all blocks.

Open vocabularies (status, msgType, severity, event codes) are kept as
published; a value sanqing does not know becomes a note, never a crash.

The helpers that read meaning out of text (:func:`hazard_from_text`,
:func:`colour_from_text`, :func:`colour_from_severity`) are shared with the
QWeather adapter.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from pydantic import ValidationError

from sanqing.errors import (
    CapError,
)
from sanqing.feeds.model import (
    OUT_OF_RANGE,
    FeedWarning,
    ParseFailure,
    ParseResult,
    Reference,
    SourceFormat,
    fits_utc,
)
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
# What real feeds send: 'Z', no seconds, '+0800', a space for 'T'. An offset is still required.
_LENIENT_TIME = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<hm>\d{2}:\d{2})(?P<sec>:\d{2}(?:\.\d+)?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2})$"
)
_NO_OFFSET_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?$")
_XML_DECL_ENCODING = re.compile(
    r"""\A(<\?xml\s[^?>]*?encoding\s*=\s*)(["'])([A-Za-z][A-Za-z0-9._:-]*)\2"""
)
_UTF8_NAMES = {"utf-8", "utf8", "us-ascii", "ascii"}
# GB2312 and GBK documents routinely carry characters only their supersets define.
_CODEC_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030"}
_COLOUR_RANK: dict[Colour, int] = {
    Colour.BLUE: 1,
    Colour.YELLOW: 2,
    Colour.ORANGE: 3,
    Colour.RED: 4,
}
_ENTITY_DECL = re.compile(rb"<!ENTITY\s+(%\s*)?[^\s>]+\s+(SYSTEM|PUBLIC)?", re.IGNORECASE)


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


def parse_cap_time(text: str | None, element: str, notes: list[str] | None = None) -> datetime:
    """A CAP time ``YYYY-MM-DDThh:mm:ss±hh:mm``.

    ``Z``, a missing seconds field, a ``+0800`` offset or a space for ``T`` are
    read as meant, with a note in ``notes``; a time without an offset from UTC,
    or anything else, is a :class:`CapError`.
    """
    value = (text or "").strip()
    if not value:
        raise CapError(element, "is empty; a time YYYY-MM-DDThh:mm:ss±hh:mm is required")
    if _CAP_TIME.match(value):
        normal = value
    else:
        m = _LENIENT_TIME.match(value)
        if m is None:
            if _NO_OFFSET_TIME.match(value):
                why = "has no offset from UTC, which is required (YYYY-MM-DDThh:mm:ss±hh:mm)"
            else:
                why = "is not in the CAP format YYYY-MM-DDThh:mm:ss±hh:mm"
            raise CapError(element, f"time {value!r} {why}")
        tz = m["tz"]
        if tz == "Z":
            tz = "+00:00"
        elif ":" not in tz:
            tz = f"{tz[:3]}:{tz[3:]}"
        normal = f"{m['date']}T{m['hm']}{m['sec'] or ':00'}{tz}"
    try:
        parsed = datetime.fromisoformat(normal)
    except ValueError as exc:
        raise CapError(element, f"time {value!r} is not a valid date/time: {exc}") from None
    if not fits_utc(parsed):
        raise CapError(element, f"time {value!r} {OUT_OF_RANGE}")
    if normal != value and notes is not None:
        notes.append(
            f"<{element}> time {value!r} is not strict CAP (YYYY-MM-DDThh:mm:ss±hh:mm);"
            f" read as {parsed.isoformat()}"
        )
    return parsed


# ------------------------------------------------------------------------- XML


def to_utf8(data: bytes) -> tuple[bytes, str | None]:
    """The document as UTF-8 bytes, and the encoding it was decoded from (None: already UTF-8).

    A UTF-16 byte-order mark or an XML declaration naming another encoding
    than UTF-8 / ASCII (GB2312, GBK, GB18030 …) is decoded with Python's codecs
    and the declaration rewritten to UTF-8: expat cannot read multi-byte
    encodings other than UTF-8 and UTF-16.
    """
    declared: str | None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        declared, codec = "UTF-16", "utf-16"
    else:
        bom = data.startswith(codecs.BOM_UTF8)
        body = data[len(codecs.BOM_UTF8) :] if bom else data
        m = _XML_DECL_ENCODING.match(body[:200].decode("latin-1"))
        if m is None or m.group(3).lower() in _UTF8_NAMES:
            return data, None
        if bom:  # the byte-order mark wins over the declaration
            declared, codec = None, "utf-8-sig"
        else:
            declared = m.group(3)
            try:
                codec = codecs.lookup(declared).name
            except LookupError:
                raise CapError("?xml", f"declared encoding {declared!r} is unknown") from None
            codec = _CODEC_SUPERSETS.get(codec, codec)
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        raise CapError(
            "?xml",
            f"document is not valid {declared or 'UTF-8'} (byte {exc.start}: {exc.reason})",
        ) from None
    return _rewrite_declaration(text.lstrip("\ufeff")).encode("utf-8"), declared


def _rewrite_declaration(text: str) -> str:
    return _XML_DECL_ENCODING.sub(lambda m: f"{m.group(1)}{m.group(2)}UTF-8{m.group(2)}", text, 1)


def load_xml(data: bytes) -> Element:
    """Parse XML safely; hostile or broken XML is a :class:`CapError` naming the problem."""
    data, _ = to_utf8(data)
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
    sent = parse_cap_time(required("sent"), "sent", notes)
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

    references = parse_references(_text(root, "references"), notes)
    if msg_type in ("Update", "Cancel") and not references:
        notes.append(f"{msg_type} without <references>: it supersedes nothing")

    infos = _children(root, "info")
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
    langs = [(_text(i, "language") or "en-US").lower() for i in infos]
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
    language = _text(info, "language") or "en-US"
    event = _text(info, "event")
    codes: list[tuple[str, str]] = []
    for ec in _children(info, "eventCode"):
        codes.append((_text(ec, "valueName"), _text(ec, "value")))
    event_code = next((v for _, v in codes if v), "")
    severity = _text(info, "severity")
    headline = _text(info, "headline")
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
        value = _text(info, name)
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
        description=_text(info, "description"),
        hazard=hazard,
        colour=colour,
        meaning_notes=meaning,
        onset=onset,
        expires=expires,
        response_types=[
            (r.text or "").strip()
            for r in _children(info, "responseType")
            if (r.text or "").strip()
        ],
    )
    for area in _children(info, "area"):
        desc = _text(area, "areaDesc")
        if desc:
            block.area_descs.append(desc)
        else:
            notes.append("<area> without <areaDesc> (CAP requires it)")
        for p in _children(area, "polygon"):
            try:
                block.polygons.append(parse_polygon(p.text or "", notes))
            except CapError as exc:
                block.dropped.append((exc.element, exc.reason))
                notes.append(f"{exc}; polygon dropped")
        for c in _children(area, "circle"):
            try:
                block.circles.append(parse_circle(c.text or ""))
            except CapError as exc:
                block.dropped.append((exc.element, exc.reason))
                notes.append(f"{exc}; circle dropped")
        for g in _children(area, "geocode"):
            name, value = _text(g, "valueName"), _text(g, "value")
            if not value:
                notes.append(f"<geocode> {name!r} without a value; skipped")
                continue
            block.geocodes.append((name, value))
    return block


def _colour_rank(colour: Colour | None) -> int:
    return _COLOUR_RANK[colour] if colour is not None else 0


def _merge_infos(blocks: Sequence[_Info], notes: list[str]) -> dict[str, Any]:
    """One warning from all ``<info>`` blocks (see the module docstring for the rules)."""
    display = next(b for b in blocks if b.display)
    flood = [b for b in blocks if b.hazard is not None]
    # the strongest colour; on a tie the display block, then the first
    meaning = (
        max(flood, key=lambda b: (_colour_rank(b.colour), b.display, -b.index))
        if flood
        else display
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
        "response_types": _unique(r for b in ordered for r in b.response_types),
        "area_desc": "、".join(_unique(d for b in ordered for d in b.area_descs)),
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
        data, encoding = to_utf8(data)
        root = load_xml(data)
    except CapError as exc:
        return ParseResult(failures=[_failure(source, None, f"XML refused: {exc}")])
    result = _parse_root(root, source)
    if encoding is not None:
        for warning in result.warnings:
            warning.notes.append(f"document is encoded in {encoding}; decoded to UTF-8")
    return result


def _parse_root(root: Element, source: str) -> ParseResult:
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


_XML_MEDIA_TYPES = {"application/xml", "text/xml"}
_HTML_MEDIA_TYPES = {"text/html", "application/xhtml+xml"}
_HTML_SUFFIXES = (".html", ".htm", ".shtml", ".xhtml")
_LINK_RELS = ("alternate", "enclosure", "related")
_RANK_CAP, _RANK_XML, _RANK_LINK, _RANK_GUID, _RANK_HTML = range(5)


@dataclass(frozen=True)
class _Candidate:
    href: str
    rank: int


def _media_type(value: str | None) -> str:
    return (value or "").split(";")[0].strip().lower()


def _rank(href: str, media_type: str, fallback: int) -> int:
    """How likely ``href`` is the CAP message: CAP type, then XML, then ``fallback``; HTML last."""
    if media_type in CAP_MEDIA_TYPES:
        return _RANK_CAP
    if media_type in _XML_MEDIA_TYPES:
        return _RANK_XML
    if media_type in _HTML_MEDIA_TYPES or media_type.startswith("text/html"):
        return _RANK_HTML
    if not media_type and urlparse(href).path.lower().endswith(_HTML_SUFFIXES):
        return _RANK_HTML
    return fallback


def _link_candidate(link: Element) -> _Candidate | None:
    """An Atom-style ``<link href type rel>`` (in Atom, or atom:link in RSS)."""
    href = (link.get("href") or "").strip()
    if not href:
        return None
    rel = (link.get("rel") or "alternate").strip().lower()
    media_type = _media_type(link.get("type"))
    if rel == "self" or (rel not in _LINK_RELS and media_type not in CAP_MEDIA_TYPES):
        return None
    return _Candidate(href, _rank(href, media_type, _RANK_LINK))


def _choose_link(candidates: Sequence[_Candidate], what: str) -> str:
    """The best candidate's href (ties: document order); a :class:`CapError` if there is none."""
    if not candidates:
        raise CapError(what, "has no <link> or <content> with a CAP alert")
    best = min(candidates, key=lambda c: c.rank)
    if best.rank == _RANK_HTML:
        hrefs = ", ".join(c.href for c in candidates)
        raise CapError(what, f"links only to an HTML page ({hrefs}), not to a CAP message")
    return best.href


def _parse_atom(feed: Element, source: str) -> ParseResult:
    result = ParseResult()
    links: list[str] = []
    for n, entry in enumerate(_children(feed, "entry"), start=1):
        ident = _text(entry, "id") or None
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
        candidates = [c for c in map(_link_candidate, _children(entry, "link")) if c]
        if content is not None and (content.get("src") or "").strip():
            src = (content.get("src") or "").strip()
            candidates.append(
                _Candidate(src, _rank(src, _media_type(content.get("type")), _RANK_LINK))
            )
        try:
            links.append(resolve_link(_choose_link(candidates, "entry"), source))
        except CapError as exc:
            result.failures.append(_failure(source, ident, f"Atom entry {n} {exc}"))
    _stray_alerts(feed, source, "Atom <feed>", result)
    result.links = _unique(links)
    return result


def _stray_alerts(parent: Element, source: str, where: str, result: ParseResult) -> None:
    """Read the CAP alerts a feed carries outside any entry or item, each with a note.

    Not where Atom or RSS puts content, but a whole CAP alert all the same: read, not
    passed over in silence.
    """
    for n, elem in enumerate((c for c in parent if _split(c.tag)[1] == "alert"), start=1):
        warning, failure = _alert_result(elem, f"{source}#alert{n}")
        if warning:
            warning.notes.append(f"CAP <alert> directly in the {where}, outside any entry")
            result.warnings.append(warning)
        if failure:
            result.failures.append(failure)


def _parse_rss(rss: Element, source: str) -> ParseResult:
    result = ParseResult()
    channel = _child(rss, "channel")
    if channel is None:
        result.failures.append(_failure(source, None, "RSS <rss> without <channel>"))
        return result
    links: list[str] = []
    for n, item in enumerate(_children(channel, "item"), start=1):
        guid = _child(item, "guid")
        guid_text = (guid.text or "").strip() if guid is not None else ""
        candidates: list[_Candidate] = []
        for enc in _children(item, "enclosure"):
            url = (enc.get("url") or "").strip()
            if url:
                candidates.append(
                    _Candidate(url, _rank(url, _media_type(enc.get("type")), _RANK_LINK))
                )
        for link in _children(item, "link"):
            if link.get("href") is not None:  # atom:link inside RSS
                candidate = _link_candidate(link)
                if candidate is not None:
                    candidates.append(candidate)
            elif (link.text or "").strip():
                href = (link.text or "").strip()
                candidates.append(_Candidate(href, _rank(href, "", _RANK_LINK)))
        if guid is not None and guid_text:
            permalink = guid.get("isPermaLink")
            # RSS 2.0: isPermaLink defaults to true; an absent one counts only for a URL
            if (permalink or "").strip().lower() == "true" or (
                permalink is None and _is_url(guid_text)
            ):
                candidates.append(_Candidate(guid_text, _rank(guid_text, "", _RANK_GUID)))
        try:
            links.append(resolve_link(_choose_link(candidates, "item"), source))
        except CapError as exc:
            result.failures.append(_failure(source, guid_text or None, f"RSS item {n} {exc}"))
    _stray_alerts(channel, source, "RSS <channel>", result)
    result.links = _unique(links)
    return result

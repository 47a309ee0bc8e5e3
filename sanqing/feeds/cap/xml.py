"""Safe XML and CAP times.

XML is parsed with :mod:`defusedxml` only, with DTDs, entity declarations and
external references all forbidden: a document carrying any of them is refused with
a reason that says which. Documents in GB2312, GBK or GB18030, or with a UTF-16
byte-order mark, are decoded with Python's codecs first (expat reads none of the
multi-byte Chinese encodings). Times are ``YYYY-MM-DDThh:mm:ss±hh:mm``; what real
feeds send instead is accepted with a note, a time without an offset is an error.
"""

from __future__ import annotations

import codecs
import re
from datetime import datetime
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from sanqing.errors import (
    CapError,
)
from sanqing.feeds.model import (
    OUT_OF_RANGE,
    fits_utc,
)

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


_ENTITY_DECL = re.compile(rb"<!ENTITY\s+(%\s*)?[^\s>]+\s+(SYSTEM|PUBLIC)?", re.IGNORECASE)


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


def split_tag(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def children(elem: Element, name: str) -> list[Element]:
    return [c for c in elem if split_tag(c.tag)[1] == name]


def child(elem: Element, name: str) -> Element | None:
    for c in elem:
        if split_tag(c.tag)[1] == name:
            return c
    return None


def text_of(elem: Element, name: str) -> str:
    c = child(elem, name)
    return (c.text or "").strip() if c is not None else ""

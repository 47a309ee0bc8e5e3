"""One entry point for any warning document: CAP alert, Atom / RSS index, QWeather JSON.

:func:`parse_document` never raises for bad input: a hostile, malformed or
oversized document becomes a :class:`ParseFailure` whose reason names the
source and the element; the good warnings of a document are kept even when
one of its warnings is bad.
"""

from __future__ import annotations

import codecs
import logging
from collections.abc import Sequence

from sanqing.feeds.cap import parse_cap
from sanqing.feeds.model import ParseFailure, ParseResult
from sanqing.feeds.qweather import parse_qweather

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 2_000_000

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def detect_format(data: bytes) -> str:
    """``xml``, ``json`` or ``unknown`` from the first significant character.

    A UTF-8 or UTF-16 byte-order mark is skipped (the CAP reader decodes UTF-16).
    """
    if data.startswith(_UTF16_BOMS):
        head = data[:256].decode("utf-16", errors="ignore").lstrip().encode("utf-8")
    else:
        head = data.removeprefix(codecs.BOM_UTF8).lstrip()
    if head.startswith(b"<"):
        return "xml"
    if head.startswith((b"{", b"[")):
        return "json"
    return "unknown"


def parse_document(
    data: bytes,
    *,
    source: str,
    area_codes: Sequence[str] = (),
    area_desc: str = "",
) -> ParseResult:
    """Read one fetched document into warnings, failures and links still to fetch.

    ``area_codes`` / ``area_desc`` describe the place a QWeather query stood
    for (QWeather answers carry no area); CAP documents carry their own area
    and ignore them.
    """
    try:
        result = _parse(data, source=source, area_codes=area_codes, area_desc=area_desc)
    except Exception as exc:  # never let one bad document stop a poll
        log.exception("unexpected error parsing %s", source)
        result = ParseResult(
            failures=[
                ParseFailure(
                    source=source,
                    reason=f"{source}: could not be parsed ({type(exc).__name__}: {exc})",
                )
            ]
        )
    for note_failure in result.failures:
        log.warning("warning feed %s refused: %s", source, note_failure.reason)
    for warning in result.warnings:
        for note in warning.notes:
            log.info("warning %s from %s: %s", warning.identifier, source, note)
    return result


def _parse(data: bytes, *, source: str, area_codes: Sequence[str], area_desc: str) -> ParseResult:
    if not isinstance(data, bytes | bytearray):
        return _fail(source, f"expected bytes, got {type(data).__name__}")
    if len(data) > MAX_DOCUMENT_BYTES:
        return _fail(
            source,
            f"document is {len(data)} bytes, over the limit of {MAX_DOCUMENT_BYTES} bytes",
        )
    if not data.strip():
        return _fail(source, "document is empty")
    kind = detect_format(bytes(data))
    if kind == "xml":
        return parse_cap(bytes(data), source=source)
    if kind == "json":
        return parse_qweather(
            bytes(data), source=source, area_codes=area_codes, area_desc=area_desc
        )
    return _fail(source, "document is neither XML (CAP, Atom, RSS) nor JSON (QWeather)")


def _fail(source: str, reason: str) -> ParseResult:
    return ParseResult(failures=[ParseFailure(source=source, reason=f"{source}: {reason}")])

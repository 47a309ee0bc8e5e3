"""A CAP document: one alert, or an Atom or RSS index that lists several (links resolved, the best one chosen)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlparse
from xml.etree.ElementTree import Element

from sanqing.errors import (
    CapError,
)
from sanqing.feeds.cap.alerts import alert_result, parse_failure
from sanqing.feeds.cap.info import unique
from sanqing.feeds.cap.vocabulary import ATOM_NS, CAP_MEDIA_TYPES
from sanqing.feeds.cap.xml import child, children, load_xml, split_tag, text_of, to_utf8
from sanqing.feeds.model import (
    ParseResult,
)


def parse_cap(data: bytes, *, source: str) -> ParseResult:
    """A CAP ``<alert>`` document, an Atom feed or an RSS 2.0 index → :class:`ParseResult`.

    Never raises for bad input: every problem is a :class:`ParseFailure`.
    """
    try:
        data, encoding = to_utf8(data)
        root = load_xml(data)
    except CapError as exc:
        return ParseResult(failures=[parse_failure(source, None, f"XML refused: {exc}")])
    result = _parse_root(root, source)
    if encoding is not None:
        for warning in result.warnings:
            warning.notes.append(f"document is encoded in {encoding}; decoded to UTF-8")
    return result


def _parse_root(root: Element, source: str) -> ParseResult:
    ns, local = split_tag(root.tag)
    if local == "alert":
        warning, failure = alert_result(root, source)
        return ParseResult(
            warnings=[warning] if warning else [], failures=[failure] if failure else []
        )
    if local == "feed" and ns == ATOM_NS:
        return _parse_atom(root, source)
    if local == "rss":
        return _parse_rss(root, source)
    return ParseResult(
        failures=[
            parse_failure(
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
    for n, entry in enumerate(children(feed, "entry"), start=1):
        ident = text_of(entry, "id") or None
        content = child(entry, "content")
        embedded = (
            [c for c in content if split_tag(c.tag)[1] == "alert"] if content is not None else []
        )
        if embedded:
            for elem in embedded:
                warning, failure = alert_result(elem, f"{source}#entry{n}")
                if warning:
                    result.warnings.append(warning)
                if failure:
                    result.failures.append(failure)
            continue
        candidates = [c for c in map(_link_candidate, children(entry, "link")) if c]
        if content is not None and (content.get("src") or "").strip():
            src = (content.get("src") or "").strip()
            candidates.append(
                _Candidate(src, _rank(src, _media_type(content.get("type")), _RANK_LINK))
            )
        try:
            links.append(resolve_link(_choose_link(candidates, "entry"), source))
        except CapError as exc:
            result.failures.append(parse_failure(source, ident, f"Atom entry {n} {exc}"))
    _stray_alerts(feed, source, "Atom <feed>", result)
    result.links = unique(links)
    return result


def _stray_alerts(parent: Element, source: str, where: str, result: ParseResult) -> None:
    """Read the CAP alerts a feed carries outside any entry or item, each with a note.

    Not where Atom or RSS puts content, but a whole CAP alert all the same: read, not
    passed over in silence.
    """
    for n, elem in enumerate((c for c in parent if split_tag(c.tag)[1] == "alert"), start=1):
        warning, failure = alert_result(elem, f"{source}#alert{n}")
        if warning:
            warning.notes.append(f"CAP <alert> directly in the {where}, outside any entry")
            result.warnings.append(warning)
        if failure:
            result.failures.append(failure)


def _parse_rss(rss: Element, source: str) -> ParseResult:
    result = ParseResult()
    channel = child(rss, "channel")
    if channel is None:
        result.failures.append(parse_failure(source, None, "RSS <rss> without <channel>"))
        return result
    links: list[str] = []
    for n, item in enumerate(children(channel, "item"), start=1):
        guid = child(item, "guid")
        guid_text = (guid.text or "").strip() if guid is not None else ""
        candidates: list[_Candidate] = []
        for enc in children(item, "enclosure"):
            url = (enc.get("url") or "").strip()
            if url:
                candidates.append(
                    _Candidate(url, _rank(url, _media_type(enc.get("type")), _RANK_LINK))
                )
        for link in children(item, "link"):
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
            result.failures.append(parse_failure(source, guid_text or None, f"RSS item {n} {exc}"))
    _stray_alerts(channel, source, "RSS <channel>", result)
    result.links = unique(links)
    return result

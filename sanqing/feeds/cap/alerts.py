"""A CAP 1.2 / 1.1 ``<alert>`` as a :class:`FeedWarning`: infos merged, references, areas.

Its ``<info>`` blocks are read and merged by ``info`` (polygons and circles by
``geometry``), its ``references`` here. A bad polygon or circle is dropped with a note; the
alert is refused only when it is then left with no usable area at all.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element

from pydantic import ValidationError

from sanqing.errors import CapError
from sanqing.feeds.cap.info import choose_info, merge_infos, parse_info
from sanqing.feeds.cap.vocabulary import (
    CAP_NAMESPACES,
    KNOWN_STATUSES,
    LIFECYCLE_MSG_TYPES,
    OTHER_MSG_TYPES,
)
from sanqing.feeds.cap.xml import children, parse_cap_time, split_tag, text_of
from sanqing.feeds.model import (
    FeedWarning,
    ParseFailure,
    Reference,
    SourceFormat,
)


def parse_alert_element(root: Element, *, source: str) -> FeedWarning:
    """One CAP ``<alert>`` element → :class:`FeedWarning`; a :class:`CapError` if it breaks CAP."""
    _check_is_alert(root)
    notes: list[str] = []
    identifier = _required(root, "identifier")
    sent = parse_cap_time(_required(root, "sent"), "sent", notes)
    status = _required(root, "status")
    msg_type = _required(root, "msgType")
    sender = text_of(root, "sender")
    notes.extend(_vocabulary_notes(sender=sender, status=status, msg_type=msg_type))
    references = parse_references(text_of(root, "references"), notes)
    if msg_type in ("Update", "Cancel") and not references:
        notes.append(f"{msg_type} without <references>: it supersedes nothing")
    fields = _info_fields(root, msg_type, notes)
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


def _check_is_alert(root: Element) -> None:
    """A :class:`CapError` unless ``root`` is an ``<alert>`` of CAP 1.2 or 1.1."""
    ns, local = split_tag(root.tag)
    if local != "alert":
        raise CapError(local, "is not a CAP <alert>")
    if ns not in CAP_NAMESPACES:
        raise CapError(
            "alert", f"namespace {ns!r} is not CAP 1.2 or 1.1 ({', '.join(CAP_NAMESPACES)})"
        )


def _required(root: Element, name: str) -> str:
    """The text of a child CAP requires; a :class:`CapError` when it is missing or empty."""
    value = text_of(root, name)
    if not value:
        raise CapError(name, "is missing or empty; CAP requires it")
    return value


def _vocabulary_notes(*, sender: str, status: str, msg_type: str) -> list[str]:
    """Notes on a missing sender, and on a status or message type outside a warning's lifecycle."""
    notes: list[str] = []
    if not sender:
        notes.append("<sender> is missing (CAP requires it)")
    if status not in KNOWN_STATUSES:
        notes.append(f"unknown <status> {status!r}; kept as published")
    if msg_type in OTHER_MSG_TYPES:
        notes.append(f"<msgType> {msg_type} is not part of a warning's lifecycle")
    elif msg_type not in LIFECYCLE_MSG_TYPES:
        notes.append(f"unknown <msgType> {msg_type!r}; kept as published")
    return notes


def _info_fields(root: Element, msg_type: str, notes: list[str]) -> dict[str, Any]:
    """The warning's fields from its ``<info>`` blocks, merged (none: an alert without them).

    A :class:`CapError` when a bad polygon or circle was dropped and no usable area is left.
    """
    infos = children(root, "info")
    display = choose_info(infos)
    if display is None:
        if msg_type == "Alert":
            notes.append("alert without <info>: no event, colour or area")
        return {}
    blocks = [
        parse_info(info, n, notes, display=info is display) for n, info in enumerate(infos, start=1)
    ]
    fields = merge_infos(blocks, notes)
    dropped = [d for b in blocks for d in b.dropped]
    if dropped and not (
        fields["geocodes"] or fields["polygons"] or fields["circles"] or fields["area_desc"]
    ):
        element, reason = dropped[0]
        raise CapError(element, f"{reason}; the alert has no other usable area")
    return fields


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

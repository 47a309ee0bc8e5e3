"""CAP 1.2 / 1.1 alerts (OASIS Common Alerting Protocol) and the Atom / RSS indexes that list them.

``xml`` (safe parsing, encodings, times), ``vocabulary`` (CAP's open vocabularies and
the hazard and colour read from them), ``alerts`` (one ``<alert>``), ``info`` (its
``<info>`` blocks, read and merged), ``geometry`` (polygons and circles), ``index`` (a
document: an alert, or an Atom / RSS index; :func:`parse_cap` is the entry).

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

from sanqing.feeds.cap.alerts import (
    alert_result,
    parse_alert_element,
    parse_failure,
    parse_references,
)
from sanqing.feeds.cap.geometry import parse_circle, parse_polygon
from sanqing.feeds.cap.index import (
    parse_cap,
    resolve_link,
)
from sanqing.feeds.cap.info import choose_info, unique
from sanqing.feeds.cap.vocabulary import (
    ATOM_NS,
    CAP_MEDIA_TYPES,
    CAP_NAMESPACES,
    EVENT_CODE_HAZARDS,
    KNOWN_SEVERITIES,
    KNOWN_STATUSES,
    LIFECYCLE_MSG_TYPES,
    OTHER_MSG_TYPES,
    SEVERITY_COLOURS,
    colour_from_level,
    colour_from_severity,
    colour_from_text,
    colour_rank,
    decide_colour,
    hazard_from_text,
)
from sanqing.feeds.cap.xml import (
    child,
    children,
    load_xml,
    parse_cap_time,
    split_tag,
    text_of,
    to_utf8,
)

__all__ = [
    "ATOM_NS",
    "CAP_MEDIA_TYPES",
    "CAP_NAMESPACES",
    "EVENT_CODE_HAZARDS",
    "KNOWN_SEVERITIES",
    "KNOWN_STATUSES",
    "LIFECYCLE_MSG_TYPES",
    "OTHER_MSG_TYPES",
    "SEVERITY_COLOURS",
    "alert_result",
    "child",
    "children",
    "choose_info",
    "colour_from_level",
    "colour_from_severity",
    "colour_from_text",
    "colour_rank",
    "decide_colour",
    "hazard_from_text",
    "load_xml",
    "parse_alert_element",
    "parse_cap",
    "parse_cap_time",
    "parse_circle",
    "parse_failure",
    "parse_polygon",
    "parse_references",
    "resolve_link",
    "split_tag",
    "text_of",
    "to_utf8",
    "unique",
]

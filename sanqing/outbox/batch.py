"""The notices of one village and step, gathered before they are written.

Each notice gets its key (a versioned one for the notices that change with the
response), is skipped when the outbox has it, and is rendered once: a text that is
the same for the whole village (the warning SMS) is rendered a single time.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sanqing.models import Channel
from sanqing.outbox import sms
from sanqing.outbox.keys import NoticeKey
from sanqing.outbox.rendering import render
from sanqing.outbox.writer import notice_row

#: Notices that are re-issued when their content changes (one per cadre or village).
VERSIONED = frozenset({Channel.WECHAT, Channel.LOUDSPEAKER, Channel.DOOR_VISIT, Channel.TASK_LIST})


def _dumps(value: Any) -> str:
    """The canonical JSON of ``value`` that a digest is taken of."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def digest(ctx: dict[str, Any]) -> str:
    """A short stable digest of what a notice says (not when it was generated)."""
    return _sha(_dumps(ctx))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class _CanonicalJSON:
    """``_dumps`` of notice contexts, each dict among their values encoded once.

    A move is in a cadre's door-visit list and task list, the village's summary in
    two messages: their JSON is kept (with the dict, so its ``id`` is not reused) and
    joined the way ``json.dumps`` joins, which gives the same text and so the same
    digest. Contexts are built once and not changed after (``NoticeContext``).
    """

    def __init__(self) -> None:
        self._memo: dict[int, tuple[Any, str]] = {}

    def dumps(self, ctx: dict[str, Any]) -> str:
        items = (f"{_dumps(k)}: {self._value(ctx[k])}" for k in sorted(ctx))
        return "{" + ", ".join(items) + "}"

    def _value(self, value: Any) -> str:
        if type(value) is list:
            return "[" + ", ".join(self._dict(x) for x in value) + "]"
        return self._dict(value)

    def _dict(self, value: Any) -> str:
        if type(value) is not dict:
            return _dumps(value)
        known = self._memo.get(id(value))
        if known is None or known[0] is not value:
            known = self._memo[id(value)] = (value, _dumps(value))
        return known[1]


@dataclass
class NoticeBatch:
    """The new notices of one village: outbox rows in the order they were added."""

    activation_id: str
    village_code: str
    locale: str
    #: what every notice is rendered with (``NoticeContext.common``)
    common: dict[str, Any]
    #: what the SMS platform puts in front of every text
    signature: str
    #: SMS billing segments beyond which a text is logged as too long
    sms_max_segments: int
    #: ids already in the outbox for this village
    written: set[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    #: recipients whose SMS is longer than ``sms_max_segments``
    too_long: list[str] = field(default_factory=list)
    #: id prefixes whose older pending versions are replaced
    superseded: list[str] = field(default_factory=list)
    _same_for_all: dict[str, str] = field(default_factory=dict)
    _json: _CanonicalJSON = field(default_factory=_CanonicalJSON)
    _sms_bodies: dict[str, tuple[str, bool]] = field(default_factory=dict)

    def add(
        self,
        channel: Channel,
        purpose: str,
        *,
        audience: str,
        recipient: str,
        address: str | None,
        subject: str,
        template: str,
        body_format: str = "text",
        **ctx: Any,
    ) -> None:
        """Add the notice unless the outbox has it: rendered with ``ctx`` on top of the common."""
        key = self._key(channel, purpose, recipient, ctx)
        if str(key) in self.written:
            return
        body = self._body(template, body_format, ctx)
        if channel == Channel.SMS:
            body, too_long = self._sms_body(body)
            if too_long:
                self.too_long.append(recipient)
        self.rows.append(
            notice_row(
                key,
                village_code=self.village_code,
                audience=audience,
                recipient=recipient,
                address=address,
                locale=self.locale,
                subject=subject,
                body=body,
                body_format=body_format,
                # What the platform puts in front: the print folder shows it as received.
                payload={"signature": self.signature} if channel == Channel.SMS else None,
            )
        )

    def _key(
        self, channel: Channel, purpose: str, recipient: str, ctx: dict[str, Any]
    ) -> NoticeKey:
        """The notice's key; a versioned notice's new version supersedes its pending old ones."""
        key = NoticeKey(self.activation_id, channel.value, purpose, recipient)
        if channel in VERSIONED:
            # Lists and village messages change when the response grows (escalation, new
            # findings): a new version gets its own id and replaces the pending old one.
            said = ctx | {"level": self.common["level"], "warning": self.common["warning"]}
            key = key.versioned(_sha(self._json.dumps(said)))
            if str(key) not in self.written:
                self.superseded.append(key.stem)
        return key

    def _body(self, template: str, body_format: str, ctx: dict[str, Any]) -> str:
        """The notice's text, rendered in the batch's locale."""
        # A notice without a recipient's own context (the warning SMS) is the same
        # text for the whole village: render it once.
        body = self._same_for_all.get(template) if not ctx else None
        if body is None:
            body = render(template, locale=self.locale, **self.common, **ctx)
            if body_format == "text":
                body = body.strip()
            if not ctx:
                self._same_for_all[template] = body
        return body

    def _sms_body(self, text: str) -> tuple[str, bool]:
        """An SMS body as the platform takes it, and whether it is longer than planned."""
        known = self._sms_bodies.get(text)  # the warning: one text for the whole village
        if known is None:
            # The platform refuses 【】 in a body (a name from the ledger may hold them)
            # and puts the signature in front: the length counts it.
            body = sms.clean_body(text)
            too_long = sms.segments(self.signature + body) > self.sms_max_segments
            known = self._sms_bodies[text] = (body, too_long)
        return known

    def older_versions(self) -> list[str]:
        """Ids already written that a new version in this batch replaces."""
        # Older versions are among the ids already loaded: no scan of the outbox.
        stems = set(self.superseded)
        return [nid for nid in self.written if NoticeKey.stem_of(nid) in stems]

    def by_channel(self) -> dict[str, int]:
        """How many new notices per channel."""
        counts: dict[str, int] = defaultdict(int)
        for row in self.rows:
            counts[row["channel"]] += 1
        return dict(counts)

"""The id of an outbox row: what makes sending a notice twice impossible.

``{activation}:{channel}:{purpose}:{about}[:{version}][:{copy}]`` — the activation,
the channel, what the notice is for, whom or what it is about (a recipient's code, a
report's kind), for a notice that changes a version (a digest of its content, a batch
of households, a sequence number), and for a resend or a hand-up of a sent notice,
which copy. Writing a row with an id that exists changes nothing, so every step can
run again. Ids are built and read here only: nobody else splits them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

from sanqing.errors import SanqingError

SEP = ":"
#: A copy's name starts with one of these; a version never does.
COPY_PREFIXES = ("resend-", "to-")


@dataclass(frozen=True)
class NoticeKey:
    activation_id: str
    channel: str
    purpose: str
    about: str
    version: str = ""
    copy: str = ""

    def __post_init__(self) -> None:
        for name in ("activation_id", "channel", "purpose", "about", "version"):
            value = getattr(self, name)
            if SEP in value:
                raise SanqingError(f"notice key: {name} {value!r} must not contain {SEP!r}")
        if self.copy and not self.copy.startswith(COPY_PREFIXES):
            raise SanqingError(f"notice key: a copy is named {' or '.join(COPY_PREFIXES)}…")
        if self.version.startswith(COPY_PREFIXES):
            raise SanqingError(f"notice key: version {self.version!r} reads as a copy")

    def __str__(self) -> str:
        return self.text

    @cached_property
    def text(self) -> str:
        """The id as the outbox keeps it (joined once: a notice's key is read many times)."""
        parts = [self.activation_id, self.channel, self.purpose, self.about]
        parts += [p for p in (self.version, self.copy) if p]
        return SEP.join(parts)

    @property
    def stem(self) -> str:
        """The id without its version: every version of this notice starts with it."""
        return SEP.join([self.activation_id, self.channel, self.purpose, self.about]) + SEP

    @staticmethod
    def stem_of(text: str) -> str | None:
        """The ``stem`` an id with a version or copy starts with (None: the id has neither)."""
        parts = text.split(SEP, 4)
        return SEP.join(parts[:4]) + SEP if len(parts) == 5 else None

    def versioned(self, version: str) -> NoticeKey:
        return replace(self, version=version, copy="")

    def copied(self, copy: str) -> NoticeKey:
        """The key of a resend or hand-up of this notice: ``resend-2``, ``to-C001``."""
        return replace(self, copy=copy)

    @classmethod
    def parse(cls, text: str) -> NoticeKey:
        parts = text.split(SEP)
        copy = parts.pop() if len(parts) > 4 and parts[-1].startswith(COPY_PREFIXES) else ""
        if len(parts) not in (4, 5) or not all(parts):
            raise SanqingError(
                f"notice key {text!r}: not activation:channel:purpose:about[:version][:copy]"
            )
        activation_id, channel, purpose, about, *version = parts
        return cls(activation_id, channel, purpose, about, version[0] if version else "", copy)

"""Every error sanqing raises, in one tree (as httpx lays out its exceptions).

Catch ``SanqingError`` for anything of ours; each message names the input, the place
(file, row, column, key, element or field) and why, so one line tells what to fix::

    SanqingError
    ├── ConfigError (ValueError) ............ a configuration file is wrong
    │   ├── PlanConfigError ................. config/plans/*.yaml
    │   └── ScenarioError ................... config/scenarios/*.yaml
    ├── RegistryError (ValueError) .......... a registry (ledger) file has bad rows: RowProblem each
    ├── UnknownTown (LookupError)
    ├── UnknownVillage (LookupError)
    ├── UnknownActivation (LookupError)
    ├── TemplateMissing (LookupError) ....... no template for a name and locale
    ├── FieldReportError (LookupError) ...... findings or roads name places the town does not have
    ├── HazardNotFound (LookupError) ........ a field report names a hazard point the town lacks
    ├── RoadNotFound (LookupError) .......... a field report names a road segment the town lacks
    ├── UnsafePath (ValueError) ............. a path built from data would leave its folder
    ├── UnwritableDir (OSError) ............. a folder sanqing must write to cannot be written
    ├── DatabaseUnavailable (ConnectionError) the app database cannot be opened
    ├── AnswerError (ValueError) ............ an answer from the field or the commander: problems
    │   └── LinkError ....................... a 收到 link that cannot be taken (HTTP 403)
    │       ├── LinkMalformed ............... cut or of the old kind (400)
    │       ├── LinkForged .................. altered, or for another task (403)
    │       └── LinkExpired ................. tapped after its expiry (410)
    ├── CapError (ValueError) ............... a CAP alert or feed index breaks the standard: <element>
    ├── QWeatherError (ValueError) .......... a QWeather answer that cannot be read: field
    ├── FetchError (OSError) ................ a feed document could not be read: retryable, deadline
    ├── ChannelError ........................ a send that failed: retryable, channel_wide
    └── PrefectServerError (RuntimeError) ... the local Prefect server cannot start

Raised where they happen and defined here only, so the tree stays whole; the
modules import them from here.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError


def describe_validation(exc: ValidationError) -> str:
    """One line per problem, ``key a.b.c: reason``, for messages that name the key."""
    return "\n  ".join(
        f"key {'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
        for e in exc.errors()
    )


class SanqingError(Exception):
    """Base of every error sanqing raises on purpose."""


class ConfigError(SanqingError, ValueError):
    """A configuration file is missing or invalid."""


class PlanConfigError(ConfigError):
    """A plan file (``config/plans/*.yaml``) is invalid."""


class ScenarioError(ConfigError):
    """A scenario file (``config/scenarios/*.yaml``) is invalid."""


@dataclass(frozen=True)
class RowProblem:
    """One bad row of a ledger: where it is and why it was refused.

    A CSV row reads ``households.csv:12 [phone]: …``; a workbook's row names its sheet
    and the column's letter as Excel shows them:
    ``households.xlsx 工作表「户籍」第 12 行 G 列（phone）: …``.
    """

    file: Path
    row: int  # 1-based line number in the file, the header being line 1; Excel's row number
    column: str | None
    reason: str
    sheet: str | None = None  # the worksheet, for a workbook
    letter: str | None = None  # the column's letter in that worksheet

    @property
    def place(self) -> str:
        """The row without the column: ``households.csv:12`` or ``… 工作表「户籍」第 12 行``."""
        if self.sheet is None:
            return f"{self.file.name}:{self.row}"
        return f"{self.file.name} 工作表「{self.sheet}」第 {self.row} 行"

    def __str__(self) -> str:
        where = self.place
        if self.sheet is None and self.column:
            where += f" [{self.column}]"
        elif self.column:
            where += f" {self.letter} 列（{self.column}）" if self.letter else f"（{self.column}）"
        return f"{where}: {self.reason}"


class RegistryError(SanqingError, ValueError):
    """A registry file has rows that could not be loaded."""

    def __init__(self, problems: Sequence[RowProblem]) -> None:
        self.problems = list(problems)
        shown = "\n  ".join(str(p) for p in self.problems[:20])
        more = f"\n  … and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        super().__init__(
            f"{len(self.problems)} registry row(s) refused; fix them and load again:\n  {shown}{more}"
        )


class UnknownTown(SanqingError, LookupError):
    """No town with this code or key is in the registry."""

    def __init__(self, town: str, known: Sequence[str] = ()) -> None:
        hint = f" Known towns: {', '.join(known)}." if known else " Run `sanqing init` first."
        super().__init__(f"unknown town {town!r}.{hint}")
        self.town = town


class UnknownVillage(SanqingError, LookupError):
    """No village with this code or name is in the registry."""

    def __init__(self, village: str, where: str = "") -> None:
        at = f" (in {where})" if where else ""
        super().__init__(f"unknown village {village!r}{at}; check the code against the registry.")
        self.village = village


class UnknownActivation(SanqingError, LookupError):
    """No activation with this id exists."""

    def __init__(self, activation_id: str) -> None:
        super().__init__(f"unknown activation {activation_id!r}")
        self.activation_id = activation_id


class TemplateMissing(SanqingError, LookupError):
    """No template exists for this name and locale."""


class AnswerError(SanqingError, ValueError):
    """An answer from the field or the commander names something that is not there."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(
            f"{len(self.problems)} problem(s) in the answer; nothing of it was recorded:\n  "
            + "\n  ".join(self.problems)
        )


class PrefectServerError(SanqingError, RuntimeError):
    """The local Prefect server cannot start (port taken, start-up failed or too slow)."""


class ChannelError(SanqingError):
    """A send that failed; `retryable` says whether trying again later may work."""

    retryable: bool
    #: The channel, not the message, is wrong (a bad key, URL or address): every message
    #: would fail the same way. The deliverer stops the channel and keeps its rows pending.
    channel_wide: bool

    def __init__(self, message: str, *, retryable: bool, channel_wide: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.channel_wide = channel_wide

    def __reduce__(self) -> tuple[Any, ...]:
        # Exceptions pickle as cls(*args); the keyword-only flags must travel too
        # (Prefect may pickle a failed task's exception).
        return (
            functools.partial(type(self), retryable=self.retryable, channel_wide=self.channel_wide),
            self.args,
        )


class QWeatherError(SanqingError, ValueError):
    """A QWeather answer that cannot be read; the message names the field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class CapError(SanqingError, ValueError):
    """A CAP alert (or feed index) breaks the standard; the message names the element."""

    def __init__(self, element: str, reason: str) -> None:
        super().__init__(f"<{element}>: {reason}")
        self.element = element
        self.reason = reason


# --------------------------------------------------------------------- meaning


class FetchError(SanqingError, OSError):
    """A feed document could not be read (network, HTTP status, size, missing file)."""

    def __init__(self, message: str, *, retryable: bool = False, deadline: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable  # network trouble and 5xx may pass; 4xx and size will not
        self.deadline = deadline  # the feed's deadline passed (see Deadline)


class FieldReportError(SanqingError, LookupError):
    """Field reports (findings, blocked roads) name places the town does not have."""


class LinkError(AnswerError):
    """A 收到 link that cannot be taken; ``status`` is the HTTP answer to it."""

    status = 403

    def __init__(self, reason: str, *, duty_phone: str = "") -> None:
        super().__init__([reason])
        self.duty_phone = duty_phone  # the town's duty room, when the link names a known task


class LinkMalformed(LinkError):
    """Parts of the link are missing or cut (or it is a link of the old kind, without expiry)."""

    status = 400


class LinkForged(LinkError):
    """The signature does not fit: the link was altered, or names another task."""

    status = 403


class LinkExpired(LinkError):
    """A genuine link, tapped after its expiry."""

    status = 410


class UnsafePath(SanqingError, ValueError):
    """A path built from data would lead outside the folder it is for."""


class UnwritableDir(SanqingError, OSError):
    """A folder sanqing must write to cannot be created or written."""


class HazardNotFound(SanqingError, LookupError):
    """A field report names a hazard point the town does not have."""


class RoadNotFound(SanqingError, LookupError):
    """A field report names a road segment the town does not have."""


class DatabaseUnavailable(SanqingError, ConnectionError):
    """The app database cannot be opened or its tables created (wrong URL, no such database)."""

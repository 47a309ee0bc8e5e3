"""Errors raised by sanqing.

The hierarchy::

    SanqingError
    ├── ConfigError (ValueError)            a configuration file is wrong
    │   ├── PlanConfigError                 config/plans/*.yaml
    │   └── ScenarioError                   config/scenarios/*.yaml
    ├── RegistryError (ValueError)          a registry (ledger) file has bad rows
    ├── UnknownTown (LookupError)
    ├── UnknownVillage (LookupError)
    ├── UnknownActivation (LookupError)
    └── TemplateMissing (LookupError)       no template for a kind/locale

Every message names the input, the place (file, row, key) and what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

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
    """One bad row of a ledger: where it is and why it was refused."""

    file: Path
    row: int  # 1-based line number in the file, the header being line 1
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file.name}:{self.row}"
        if self.column:
            where += f" [{self.column}]"
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

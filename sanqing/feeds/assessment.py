"""What a decision on a warning is made of: its detail per town, and how the towns combine.

Shared by ``decide`` (an alert or update, rules 1-6) and ``ends`` (a cancel or
all-clear, rule 3); see ``decide`` for the rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sanqing.feeds.area import Coverage
from sanqing.feeds.chains import DRILL_PREFIX, is_drill
from sanqing.feeds.model import Action, Decision, FeedWarning
from sanqing.plans import Level

#: How strong each action is when a warning's towns are combined (rule 6).
_STRENGTH = {
    Action.ACTIVATE: 4,
    Action.STAND_DOWN: 4,
    Action.ESCALATE: 3,
    Action.DOWNGRADE: 2,
    Action.IGNORE: 1,
}


@dataclass(frozen=True)
class TownDecision:
    """What a warning means for one town."""

    town_code: str
    action: Action
    reason: str
    level: Level | None = None  # the level the town's response should have after it
    village_codes: list[str] = field(default_factory=list)
    activation_id: str | None = None  # the open activation it acts on, if any


@dataclass(frozen=True)
class Assessment:
    """The decision on a warning, with its detail per town and the area matching."""

    decision: Decision
    towns: list[TownDecision] = field(default_factory=list)
    coverage: Coverage | None = None


def drill_prefix(warning: FeedWarning) -> str:
    """``drill (<status>): `` for a drill's warning, else nothing."""
    return f"{DRILL_PREFIX}{warning.status}): " if is_drill(warning) else ""


def ignored(warning: FeedWarning, reason: str) -> Assessment:
    """An ``ignore`` of the warning, for ``reason``."""
    return Assessment(
        Decision(
            action=Action.IGNORE, reason=drill_prefix(warning) + reason, drill=is_drill(warning)
        )
    )


def strongest(towns: Sequence[TownDecision]) -> Action:
    """The strongest of the towns' actions (rule 6)."""
    return max((t.action for t in towns), key=lambda a: _STRENGTH[a])


def summary(towns: Sequence[TownDecision]) -> str:
    """Each town's action and reason, in one line."""
    return "; ".join(f"{t.town_code}: {t.action.value}, {t.reason}" for t in towns)

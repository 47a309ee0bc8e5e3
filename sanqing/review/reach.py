"""How long until each household ordered to move was reached, and acknowledged the notice.

Counted per household from its relocation order (``Relocation.ordered_at``) to the
first notice sent to it as a resident: sent (the channel took it), delivered (the
gateway's receipt) and acknowledged (the resident answered). A printed evacuation
card is handed out, not sent: it does not count as reaching anyone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from sanqing.models import Activation, Channel, Notice, Relocation

#: The steps of reaching a household, in order: the notice went out, arrived, was answered.
STEPS = ("sent", "delivered", "acknowledged")
#: Resident notices that are handed out rather than sent.
NOT_SENT = (Channel.CARD,)


def nearest_rank(values: Sequence[float], percent: float) -> float:
    """The ``percent``-th percentile by nearest rank: the ⌈p/100·n⌉-th smallest value.

    Always one of the values (no interpolation): the 50th is the lower middle of an
    even count, the 90th of 10 values the 9th smallest, of 1 value that value.
    """
    if not values:
        raise ValueError("no values: a percentile of nothing is undefined")
    if not 0 < percent <= 100:
        raise ValueError(f"percent must be in (0, 100], not {percent}")
    ordered = sorted(values)
    return ordered[max(1, math.ceil(percent / 100 * len(ordered))) - 1]


@dataclass(frozen=True)
class Spread:
    """One step of reaching households: how many, how fast (seconds), who was never reached."""

    households: int  # ordered to move
    reached: int
    median_s: float | None  # nearest rank, like the 90th
    p90_s: float | None
    worst_s: float | None
    worst_household: str | None
    never: list[str]  # household codes, sorted

    @classmethod
    def of(cls, waits: dict[str, float | None]) -> Spread:
        """The spread of ``waits`` (household code → seconds, None: never)."""
        done = {code: s for code, s in waits.items() if s is not None}
        values = list(done.values())
        worst = max(sorted(done), key=lambda code: done[code]) if done else None
        return cls(
            households=len(waits),
            reached=len(done),
            median_s=nearest_rank(values, 50) if values else None,
            p90_s=nearest_rank(values, 90) if values else None,
            worst_s=done[worst] if worst is not None else None,
            worst_household=worst,
            never=sorted(code for code, s in waits.items() if s is None),
        )


def reach_spreads(session: Session, act: Activation) -> dict[str, Spread]:
    """Sent, delivered and acknowledged: the spread of each over the households ordered to move.

    A drill's orders are on its own clock and its notices go out on the wall clock
    after it ends: those are moved onto the drill's clock (its offset at the end).
    """
    ordered = {
        code: at
        for code, at in session.exec(
            select(Relocation.household_code, Relocation.ordered_at).where(
                Relocation.activation_id == act.id
            )
        )
    }
    shift = timedelta(seconds=act.clock_offset_s)
    firsts: dict[str, dict[str, datetime]] = {step: {} for step in STEPS}
    for row in _resident_notices(session, act.id):
        if row[0] not in ordered:
            continue  # a warning to a household that does not move
        for step, at in zip(STEPS, row[1:], strict=True):
            if at is not None and (row[0] not in firsts[step] or at < firsts[step][row[0]]):
                firsts[step][row[0]] = at
    return {
        step: Spread.of(
            {
                code: _seconds(firsts[step].get(code), start, shift)
                for code, start in ordered.items()
            }
        )
        for step in STEPS
    }


def _resident_notices(
    session: Session, activation_id: str
) -> list[tuple[str, datetime | None, datetime | None, datetime | None]]:
    """(household, sent, delivered, acknowledged) of every resident notice that is sent."""
    return list(
        session.exec(
            select(
                Notice.recipient, Notice.sent_at, Notice.delivered_at, Notice.acknowledged_at
            ).where(
                Notice.activation_id == activation_id,
                Notice.audience == "resident",
                col(Notice.channel).not_in(NOT_SENT),
            )
        )
    )


def _seconds(at: datetime | None, start: datetime, shift: timedelta) -> float | None:
    return None if at is None else (at + shift - start).total_seconds()

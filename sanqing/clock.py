"""The clock that delivery reads and waits on: the system's, or one a test or drill injects.

Delivery waits for real: a gateway's 503 is retried after 5, 30, 120 … seconds
(``BACKOFF_S``), a drill settles for a minute, a rate limit spaces SMS. Code that
waits asks :func:`current` for the time and for the wait, so a test runs the real
schedule without spending it::

    with sanqing.clock.use(SkippingClock()):
        deliver_until_settled(settle_s=60)   # returns when the work is done

Only the waiting is injectable; rows keep the times their code wrote.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Wall time, timezone-aware (UTC)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for deadlines."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait this long (on this clock)."""
        ...


class SystemClock:
    """The machine's clock: real time, real waits."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM = SystemClock()

_current: ContextVar[Clock] = ContextVar("sanqing_clock", default=SYSTEM)


def current() -> Clock:
    """The clock in use here: the system's unless :func:`use` says otherwise."""
    return _current.get()


@contextmanager
def use(clock: Clock) -> Iterator[Clock]:
    """Use ``clock`` for the code run inside (this thread and the context it hands on)."""
    token = _current.set(clock)
    try:
        yield clock
    finally:
        _current.reset(token)

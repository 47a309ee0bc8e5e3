"""``sanqing deliver``: send the outbox now."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import console, fail
from sanqing.errors import SanqingError


def deliver(
    settle: Annotated[
        float,
        typer.Option(
            help="Seconds to keep retrying what a channel refused for now (backed-off rows).",
        ),
    ] = 0,
) -> None:
    """Send the outbox now through the configured channels (files where none is set).

    Prints what this run did per channel, what expired, the outbox counts, and how
    many messages are still pending (0 when everything went).
    """
    from sanqing.db import init_db
    from sanqing.delivery import deliver_until_settled, outbox_counts

    try:
        init_db()
        stats = deliver_until_settled(settle_s=settle)
    except SanqingError as exc:  # a database that cannot be opened: one line, not a traceback
        raise fail(exc) from exc
    outbox = outbox_counts()
    console.print_json(
        data={
            "this_pass": stats.as_dict(),
            "expired": stats.expired,
            "channels_down": sorted(stats.channels_down),
            "outbox": outbox,
            "pending": sum(counts.get("pending", 0) for counts in outbox.values()),
        }
    )

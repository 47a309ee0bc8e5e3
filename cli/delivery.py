"""``sanqing deliver``: send the outbox now."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import console


def deliver(
    settle: Annotated[
        float, typer.Option(help="Seconds to keep retrying what a channel refused for now.")
    ] = 0,
) -> None:
    """Send the outbox now through the configured channels (files where none is set)."""
    from sanqing.db import init_db
    from sanqing.delivery import deliver_until_settled, outbox_counts

    init_db()
    stats = deliver_until_settled(settle_s=settle)
    console.print_json(
        data={"this_pass": stats.as_dict(), "expired": stats.expired, "outbox": outbox_counts()}
    )

"""Delivering what the outbox holds, and hearing back.

``deliverer`` (a pass over the outbox, each channel in its own worker), ``state``
(counts, leases, outcomes, receipts), ``channels/`` (one sender per channel: SMS
gateway, WeCom and DingTalk robots, loudspeakers, the county's receiver, files to
print), ``fallback`` (an SMS that did not arrive becomes a phone call list),
``acknowledge`` (收到, and chasing who has not answered), ``links`` (the signed 收到
link in a message) and ``ack_server`` (the small HTTP server that takes 收到 and gateway receipts).
"""

from __future__ import annotations

from sanqing.delivery.deliverer import (
    BACKOFF_S,
    CHANNEL_DOWN_AFTER,
    DeliveryStats,
    deliver_outbox,
    deliver_until_settled,
)
from sanqing.delivery.state import (
    claim,
    expire_overdue,
    last_errors,
    outbox_counts,
    record_receipt,
)

__all__ = [
    "BACKOFF_S",
    "CHANNEL_DOWN_AFTER",
    "DeliveryStats",
    "claim",
    "deliver_outbox",
    "deliver_until_settled",
    "expire_overdue",
    "last_errors",
    "outbox_counts",
    "record_receipt",
]

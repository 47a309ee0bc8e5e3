"""The outbox: every notice, task list, card and report upward, written once, sent later.

``keys`` (the id that makes a second write a no-op), ``writer`` (the one writer of
outbox rows), ``notices`` (the notices of one village and step: ``village`` reads
what they are written from, ``contexts`` turns it into template context,
``builders`` adds each channel's notices to a ``batch``), ``cards`` (printable door
cards and work cards), ``rendering`` (Jinja, both locales) and ``sms`` (what an SMS platform counts and refuses). Delivery is
``sanqing.delivery``.

This package's ``__init__`` imports nothing: the response steps write outbox rows,
and the notice builders read the response.
"""

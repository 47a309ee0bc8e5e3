"""``python -m cli``: the same as the ``sanqing`` command."""

from cli.main import app

app()

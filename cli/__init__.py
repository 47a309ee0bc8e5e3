"""The ``sanqing`` command line: the top floor, which starts flows.

One module per group of commands (set-up, the drill, the control room, the
response, delivery, warnings); ``cli.main`` puts them on one Typer app. The
domain package ``sanqing`` never imports this package.
"""

from cli.main import app

__all__ = ["app"]

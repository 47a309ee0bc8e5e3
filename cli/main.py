"""The ``sanqing`` Typer app: every command, each from the module of its group."""

from __future__ import annotations

import typer

from cli import (
    cards,
    delivery,
    drill,
    export,
    feeds,
    plans,
    registrations,
    respond,
    response,
    review,
    serve,
    setup,
    whatif,
)

app = typer.Typer(
    help="sanqing (三情): township emergency plans run as Prefect flows.", no_args_is_help=True
)


@app.callback()
def settings_first() -> None:
    """Refuse bad settings (a config or templates folder that is not there) in one line."""
    from pydantic import ValidationError

    from cli.common import fail
    from sanqing.errors import SanqingError
    from sanqing.settings import get_settings

    try:
        get_settings()
    except ValidationError as exc:
        why = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        raise fail(SanqingError(why)) from None


app.command()(setup.init)
app.command()(drill.drill)
app.command()(serve.serve)
app.command("ack-server")(serve.ack_server)
app.command()(respond.respond)
app.command()(response.status)
app.command("stand-down")(response.stand_down)
app.command()(response.patrol)
app.command()(response.ack)
app.command()(response.casualties)
app.command()(review.review)
app.command()(registrations.followup)
app.command()(delivery.deliver)
app.command()(cards.cards)
app.command()(whatif.whatif)
app.command()(export.export)
app.add_typer(feeds.warnings_app, name="warnings")
app.add_typer(registrations.import_app, name="import")
app.add_typer(plans.plans_app, name="plans")

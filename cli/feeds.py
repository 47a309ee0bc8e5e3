"""``sanqing warnings …``: read warnings, decide what each means, respond."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from cli.common import console, fail, prepare_prefect_env
from sanqing.errors import SanqingError
from sanqing.settings import DEFAULT_TOWN, get_settings

warnings_app = typer.Typer(help="Warnings from feeds: read, decide, respond.", no_args_is_help=True)


def warning_json(decided: Any) -> dict[str, Any]:
    """One line of ``sanqing warnings ingest --json`` (a refusal keeps what is known of it)."""
    warning, failure = decided.warning, decided.failure
    d = decided.decision.model_dump(mode="json")
    d["village_codes"] = sorted(d["village_codes"])
    if warning is None:
        empty: dict[str, Any] = dict.fromkeys(
            (
                "identifier",
                "source_format",
                "msg_type",
                "status",
                "event",
                "hazard",
                "colour",
                "severity",
                "sent",
                "onset",
                "expires",
                "area_desc",
            )
        )
        known = {"identifier": failure.identifier} if failure is not None else {}
        return empty | known | {"references": [], "geocodes": [], "decision": d}
    w = warning.model_dump(mode="json")
    return {
        "identifier": w["identifier"],
        "source_format": w["source_format"],
        "msg_type": w["msg_type"],
        "status": w["status"],
        "event": w["event"],
        "hazard": w["hazard"],
        "colour": w["colour"],
        "severity": w["severity"],
        "sent": w["sent"],
        "onset": w["onset"],
        "expires": w["expires"],
        "references": [
            f"{r['sender']},{r['identifier']},{r['sent'] or ''}" for r in w["references"]
        ],
        "area_desc": w["area_desc"],
        "geocodes": [list(g) for g in w["geocodes"]],
        "decision": d,
    }


@warnings_app.command("ingest")
def warnings_ingest(
    sources: Annotated[
        list[str], typer.Argument(help="CAP/Atom/RSS/QWeather documents: paths or URLs.")
    ],
    json_out: Annotated[
        bool, typer.Option("--json", help="One JSON object per warning per line.")
    ] = False,
    now: Annotated[
        str | None, typer.Option(help="Fix the clock (ISO time with offset) for expiry checks.")
    ] = None,
    respond: Annotated[
        bool, typer.Option(help="Start, raise or end the flood response as decided.")
    ] = False,
    area_code: Annotated[
        list[str] | None, typer.Option(help="Division code a QWeather answer stands for.")
    ] = None,
    area_desc: Annotated[str, typer.Option(help="Area name a QWeather answer stands for.")] = "",
    town: Annotated[
        str, typer.Option(help="Registry to load on a fresh data directory.")
    ] = DEFAULT_TOWN,
) -> None:
    """Read warnings, store them and decide what each means; respond only with --respond."""
    from datetime import datetime

    from sanqing.db import session_scope
    from sanqing.feeds.fetch import FetchError
    from sanqing.feeds.model import ParseFailure, ParseResult
    from sanqing.feeds.watch import ingest_results, poll
    from sanqing.plans import load_plan
    from sanqing.registry import ensure_registry

    clock = None
    if now is not None:
        try:
            clock = datetime.fromisoformat(now)
        except ValueError as exc:
            raise fail(ValueError(f"--now {now!r} is not an ISO time")) from exc
        if clock.tzinfo is None:
            raise fail(ValueError(f"--now {now!r} needs an offset, e.g. 2026-07-12T20:00:00+08:00"))
    try:
        ensure_registry(town)
        results: list[ParseResult] = []
        for source in sources:
            try:
                results.append(
                    poll(
                        url=source,
                        area_codes=area_code or [],
                        area_desc=area_desc,
                        now=clock,
                        conditional=False,
                    )
                )
            except FetchError as exc:  # one unreadable source never stops the others
                results.append(ParseResult(failures=[ParseFailure(source=source, reason=str(exc))]))
        with session_scope() as session:
            decided = ingest_results(session=session, results=results, plan=load_plan(), now=clock)
    except SanqingError as exc:
        raise fail(exc) from exc
    if respond:  # this ingest's decisions, and any left pending by an earlier run
        prepare_prefect_env(get_settings())
        from flows.rain_watch import carry_out
        from sanqing.feeds.watch import pending_decisions

        with session_scope() as session:
            pending = pending_decisions(session=session, now=clock)
        for p in pending:
            carry_out(p, plan="flood", locale=get_settings().locale, now=clock)
    if json_out:
        for d in decided:
            typer.echo(json.dumps(warning_json(d), ensure_ascii=False))
        return
    table = Table(title="预警 / warnings")
    for col in (
        "identifier",
        "type",
        "hazard",
        "colour",
        "decision",
        "level",
        "villages",
        "reason",
    ):
        table.add_column(col)
    for item in decided:
        warning, decision = item.warning, item.decision
        table.add_row(
            warning.identifier if warning else "—",
            warning.msg_type if warning else "—",
            (warning.hazard or "—") if warning else "—",
            (warning.colour or "—") if warning else "—",
            decision.action.value,
            decision.level.value if decision.level else "—",
            str(len(decision.village_codes)),
            decision.reason,
        )
    console.print(table)

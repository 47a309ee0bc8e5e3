"""``sanqing warnings …``: read warnings, decide what each means, respond.

What comes from a feed (identifiers, headlines, areas, reasons) is printed as plain
text, never read as rich markup: a ``[/red]`` in a warning is shown as written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from cli.common import console, err, fail, local_prefect_api, prepare_prefect_env
from sanqing.errors import SanqingError
from sanqing.feeds.fetch import FEED_DEADLINE_S
from sanqing.settings import DEFAULT_TOWN, get_settings

if TYPE_CHECKING:
    from flows.rain_watch import CarriedOut
    from sanqing.feeds.model import ParseResult
    from sanqing.feeds.watch import Decided, Pending

warnings_app = typer.Typer(help="Warnings from feeds: read, decide, respond.", no_args_is_help=True)

#: Sources ``warnings ingest`` reads at the same time (a thread each, each with its deadline).
MAX_PARALLEL_SOURCES = 8
#: Exit code when a source could not be read at all, or a decision could not be carried out
#: (everything else was still read, decided and printed).
EXIT_INCOMPLETE = 1
NO_WARNINGS = "no warnings in this document (文档中没有预警)"

#: ``--now``, the same for ``ingest`` and ``respond``.
NowOption = Annotated[
    str | None, typer.Option(help="Fix the clock (ISO time with offset) for expiry checks.")
]


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


def _clock(now: str | None) -> datetime | None:
    if now is None:
        return None
    try:
        clock = datetime.fromisoformat(now)
    except ValueError as exc:
        raise fail(ValueError(f"--now {now!r} is not an ISO time")) from exc
    if clock.tzinfo is None:
        raise fail(ValueError(f"--now {now!r} needs an offset, e.g. 2026-07-12T20:00:00+08:00"))
    return clock


def _read_sources(
    sources: Sequence[str],
    *,
    area_codes: list[str],
    area_desc: str,
    clock: datetime | None,
    deadline_s: float,
) -> list[tuple[ParseResult, bool]]:
    """Every source read at once, each within its deadline; in the order given, with
    whether it could not be read at all."""
    from sanqing.errors import FetchError
    from sanqing.feeds.model import ParseFailure, ParseResult
    from sanqing.feeds.watch import poll

    def read(source: str) -> tuple[ParseResult, bool]:
        try:
            got = poll(
                url=source,
                area_codes=area_codes,
                area_desc=area_desc,
                now=clock,
                conditional=False,
                deadline_s=deadline_s,
            )
        except FetchError as exc:  # one unreadable source never stops the others
            return ParseResult(failures=[ParseFailure(source=source, reason=str(exc))]), True
        return got, False

    with ThreadPoolExecutor(max_workers=max(1, min(MAX_PARALLEL_SOURCES, len(sources)))) as pool:
        return list(pool.map(read, sources))


def _nothing_in(source: str) -> Decided:
    """The line of a document that held no warning and no refusal (an empty index)."""
    from sanqing.feeds.model import Action, Decision
    from sanqing.feeds.watch import Decided

    return Decided(None, Decision(action=Action.IGNORE, reason=f"{source}: {NO_WARNINGS}"))


@warnings_app.command("ingest")
def warnings_ingest(
    sources: Annotated[
        list[str], typer.Argument(help="CAP/Atom/RSS/QWeather documents: paths or URLs.")
    ],
    json_out: Annotated[
        bool, typer.Option("--json", help="One JSON object per warning per line.")
    ] = False,
    now: NowOption = None,
    respond: Annotated[
        bool, typer.Option(help="Start, raise or end the flood response as decided.")
    ] = False,
    area_code: Annotated[
        list[str] | None, typer.Option(help="Division code a QWeather answer stands for.")
    ] = None,
    area_desc: Annotated[str, typer.Option(help="Area name a QWeather answer stands for.")] = "",
    deadline: Annotated[
        float,
        typer.Option(min=0.1, help="Seconds a source (index and linked messages) may take."),
    ] = FEED_DEADLINE_S,
    town: Annotated[
        str, typer.Option(help="Registry to load on a fresh data directory.")
    ] = DEFAULT_TOWN,
) -> None:
    """Read warnings, store them and decide what each means; respond only with --respond.

    Sources are read at the same time, each within --deadline. Every document gives
    at least one line. Exit code 1 when a source could not be read at all (or, with
    --respond, a decision could not be carried out); the others are still read and printed.
    """
    from sanqing.registry import ensure_registry

    clock = _clock(now)
    try:
        ensure_registry(town)
        read = _read_sources(
            sources,
            area_codes=area_code or [],
            area_desc=area_desc,
            clock=clock,
            deadline_s=deadline,
        )
        decided = _ingest(sources, [result for result, _ in read], clock)
    except SanqingError as exc:
        raise fail(exc) from exc
    unreadable = sum(failed for _, failed in read)
    _print_warnings(decided, json_out)
    outcomes = _respond(clock) if respond else []
    if respond and not json_out:  # stdout stays JSON lines with --json
        console.print(_respond_table(outcomes))
    _exit_if_incomplete(unreadable, [o for o in outcomes if o.failed])


def _exit_if_incomplete(unreadable: int, not_done: Sequence[Outcome]) -> None:
    """Say on stderr what could not be read or carried out, and exit with code 1 if any."""
    for o in not_done:
        err.print(Text(f"{o.identifier}: {o.result}"))
    if unreadable:
        err.print(f"{unreadable} 个信息源无法读取 / source(s) could not be read at all")
    if unreadable or not_done:
        raise typer.Exit(code=EXIT_INCOMPLETE)


def _ingest(
    sources: Sequence[str], results: Sequence[ParseResult], clock: datetime | None
) -> list[Decided]:
    """Store each document's warnings and decide on each: at least one line a document."""
    from sanqing.db import session_scope
    from sanqing.feeds.watch import ingest_results
    from sanqing.plans import load_plan

    plan = load_plan()
    decided: list[Decided] = []
    with session_scope() as session:
        for source, result in zip(sources, results, strict=True):
            lines = ingest_results(session=session, results=[result], plan=plan, now=clock)
            decided += lines or [_nothing_in(source)]
    return decided


def _print_warnings(decided: Sequence[Decided], json_out: bool) -> None:
    if json_out:
        for d in decided:
            typer.echo(json.dumps(warning_json(d), ensure_ascii=False))
    else:
        console.print(_warnings_table(decided))


def _warnings_table(decided: Sequence[Decided]) -> Table:
    table = Table(title="预警 / warnings")
    for col in ("identifier", "type", "hazard", "colour", "decision", "level", "villages"):
        table.add_column(col)
    table.add_column("reason", overflow="fold")
    for item in decided:
        warning, decision = item.warning, item.decision
        identifier = warning.identifier if warning else (item.failure and item.failure.identifier)
        table.add_row(
            *(
                Text(str(v))
                for v in (
                    identifier or "—",
                    warning.msg_type if warning else "—",
                    (warning.hazard or "—") if warning else "—",
                    (warning.colour or "—") if warning else "—",
                    decision.action.value,
                    decision.level.value if decision.level else "—",
                    len(decision.village_codes),
                    decision.reason,
                )
            )
        )
    return table


@dataclass(frozen=True)
class Outcome:
    """What became of one pending decision, as ``warnings respond`` prints it."""

    identifier: str
    action: str
    level: str | None
    towns: list[str]
    result: str
    failed: bool = False


def _respond(clock: datetime | None) -> list[Outcome]:
    """Carry out every pending decision now, then end the responses no warning holds any
    more (all expired or cancelled): what the watch does after its poll."""
    prepare_prefect_env(get_settings())
    from flows.warnings_respond import respond_now
    from sanqing.db import session_scope
    from sanqing.feeds.watch import expired_responses, pending_decisions, withdraw_stale
    from sanqing.plans import load_plan

    with session_scope() as session:
        stale = withdraw_stale(session=session, now=clock)
        pending = pending_decisions(session=session, now=clock)
    with session_scope() as session:
        ending = expired_responses(session=session, plan=load_plan(), now=clock)
        session.rollback()  # only a look: the flow ends them and marks their warnings
    outcomes = [
        Outcome(w.identifier, w.action, None, [], f"未执行，已撤回 / withdrawn: {w.why}")
        for w in stale
    ]
    if not pending and not ending:
        return outcomes  # no Prefect server started for nothing
    # Flows run on our own local Prefect server unless one is configured: it ends with us.
    with local_prefect_api():
        did = respond_now(plan="flood", locale=get_settings().locale, now=clock)
    for a in did.attempts:
        if a.done is None:
            outcomes.append(
                _outcome(a.pending, f"失败，仍待执行 / failed, stays pending: {a.error}", True)
            )
        else:
            outcomes.append(_outcome(a.pending, _what_it_did(a.done)))
    for e in did.ended:
        if e.error is not None:
            result, failed = f"结束失败 / stand-down failed: {e.error}", True
        else:
            result, failed = f"{ENDED} {e.activation_id or '—'}", False
        outcomes.append(Outcome("—", "stand_down", None, [e.town], result, failed))
    return outcomes


#: The line of a response ended because no warning holds it any more.
ENDED = "预警均已结束（过期或取消），结束响应 / no warning holds it any more (expired or cancelled): stand-down asked for"


def _outcome(p: Pending, result: str, failed: bool = False) -> Outcome:
    d = p.decision
    level = d.level.value if d.level else None
    return Outcome(p.warning.identifier, d.action.value, level, d.town_codes, result, failed)


def _what_it_did(done: CarriedOut) -> str:
    if done.skipped is not None:
        return f"未执行 / not carried out: {done.skipped}"
    if done.activations:
        also = "".join(f"; 未执行 / not carried out: {why}" for why in done.left_alone)
        return f"已执行 / carried out: {', '.join(done.activations)}{also}"
    return "已执行 / carried out (handed to the flood-response deployment, or nothing running)"


def _respond_table(outcomes: Sequence[Outcome]) -> Table | Text:
    if not outcomes:
        return Text("没有待执行的决定 / no decisions pending")
    table = Table(title="执行 / carried out")
    for col in ("identifier", "decision", "level", "towns"):
        table.add_column(col)
    table.add_column("result", overflow="fold")
    for o in outcomes:
        table.add_row(
            *(Text(v) for v in (o.identifier, o.action, o.level or "—", ", ".join(o.towns) or "—")),
            Text(o.result, style="red" if o.failed else ""),
        )
    return table


@warnings_app.command("respond")
def warnings_respond(
    now: NowOption = None,
) -> None:
    """Carry out the pending decisions now (what the rain watch does after its poll).

    Decisions stored without --respond, or left by a failed run: each is checked
    again first (a cancel, an update or the expiry since withdraws it), then carried
    out. Then the responses whose warnings have all expired or been cancelled are
    stood down. Prints what became of each. Exit code 1 when one could not be carried
    out: it stays pending, for the next run or the watch.
    """
    clock = _clock(now)
    try:
        outcomes = _respond(clock)
    except SanqingError as exc:
        raise fail(exc) from exc
    console.print(_respond_table(outcomes))
    if any(o.failed for o in outcomes):
        raise typer.Exit(code=EXIT_INCOMPLETE)

"""The ``sanqing`` command: set up the database, run a drill."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from sanqing.errors import SanqingError
from sanqing.plans import Level
from sanqing.settings import DEFAULT_LOCALE, DEFAULT_TOWN, SUPPORTED_LOCALES, Settings, get_settings

app = typer.Typer(
    help="sanqing (三情): township emergency plans run as Prefect flows.", no_args_is_help=True
)
console = Console()
err = Console(stderr=True)

#: A cold 2-core machine needs longer than Prefect's default 20 s to start its local API.
EPHEMERAL_STARTUP_TIMEOUT_S = "90"
DEFAULT_DRILL_OUT = Path("drill-output")
#: How long the drill keeps retrying messages a gateway refused for now.
DRILL_SETTLE_S = 60.0


def prepare_prefect_env(settings: Settings) -> None:
    """Embedded default: Prefect's home under the data directory, quiet, patient at start-up.

    Anything the user set (``PREFECT_API_URL``, ``PREFECT_HOME`` …) wins.
    """
    os.environ.setdefault("PREFECT_HOME", str(settings.data_dir / "prefect"))
    os.environ.setdefault(
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", EPHEMERAL_STARTUP_TIMEOUT_S
    )
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def _fail(exc: Exception) -> typer.Exit:
    err.print(f"[bold red]错误 / error:[/] {exc}")
    return typer.Exit(code=2)


@app.command()
def init(
    town: Annotated[
        str, typer.Option(help="Town key or code (config/towns/<key>).")
    ] = DEFAULT_TOWN,
) -> None:
    """Create the database and load the town's registry (safe to run again)."""
    from sanqing.db import init_db, session_scope
    from sanqing.registry import load_town_dir

    settings = get_settings()
    init_db()
    try:
        with session_scope() as session:
            report = load_town_dir(session, settings.towns_dir / town)
    except SanqingError as exc:
        raise _fail(exc) from exc
    table = Table(title=f"registry {town} → {settings.effective_database_url.split('@')[-1]}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in report.counts.items():
        table.add_row(name, str(count))
    console.print(table)
    if report.problems:
        err.print(f"[bold red]{len(report.problems)} row(s) refused:[/]")
        for p in report.problems:
            err.print(f"  {p}")
        raise typer.Exit(code=1)


@app.command()
def drill(
    scenario: Annotated[
        Path | None,
        typer.Option(help="Scenario file (default: config/scenarios/orange-rainstorm.yaml)."),
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Folder for notices/, reports/ and summary.json.")
    ] = DEFAULT_DRILL_OUT,
    level: Annotated[
        Level | None, typer.Option(help="Response level; default: from the warning.")
    ] = None,
    locale: Annotated[
        str, typer.Option(help=f"Language of notices and reports: {', '.join(SUPPORTED_LOCALES)}.")
    ] = DEFAULT_LOCALE,
) -> None:
    """Run the flood plan for the sample town as a drill, end to end, on this machine."""
    from sanqing.channels.config import configured_endpoints
    from sanqing.channels.file import deliver_to_files
    from sanqing.db import session_scope
    from sanqing.delivery import deliver_until_settled, last_errors, outbox_counts
    from sanqing.registry import ensure_registry
    from sanqing.reporting import summarize
    from sanqing.scenarios import load_scenario

    settings = get_settings()
    prepare_prefect_env(settings)
    if locale not in SUPPORTED_LOCALES:
        raise _fail(
            ValueError(f"--locale must be one of {', '.join(SUPPORTED_LOCALES)}, not {locale!r}")
        )
    try:
        sc = load_scenario(scenario)
        with console.status("建立数据库并载入乡镇台账 / loading the registry…"):
            ensure_registry(sc.town)
        started = time.perf_counter()
        with console.status("启动 Prefect 本地 API 并运行预案 / running the plan under Prefect…"):
            from flows.drill import drill as drill_flow

            figures = drill_flow(
                scenario=str(scenario) if scenario else sc.name, level=level, locale=locale
            )
        elapsed = time.perf_counter() - started
        activation_id = figures["activation_id"]
        endpoints = configured_endpoints(settings)
        if endpoints:  # deliver through them (files for the channels without one) first
            with console.status(f"发送 / delivering via {', '.join(endpoints)}…"):
                deliver_until_settled(activation_id=activation_id, settle_s=DRILL_SETTLE_S)
        with session_scope() as session:
            # the out folder to read and print; without endpoints it is the delivery
            delivery = deliver_to_files(
                session=session, activation_id=activation_id, out_dir=out, mark_sent=not endpoints
            )
        with session_scope() as session:
            summary = summarize(session=session, activation_id=activation_id)
        summary["delivery"] = outbox_counts(activation_id)
        if endpoints:
            summary["delivery_errors"] = last_errors(activation_id)
            summary["delivery_seconds"] = round(time.perf_counter() - started - elapsed, 1)
    except SanqingError as exc:
        raise _fail(exc) from exc
    summary["out_dir"] = str(out.resolve())
    summary["flow_seconds"] = round(elapsed, 1)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    _print_summary(summary, sum(delivery.notices.values()))


def _print_summary(s: dict[str, Any], files: int) -> None:
    title = (
        f"【演练】{s['town']} 防汛{s['level']}级应急响应"
        if s["drill"]
        else f"{s['town']} {s['level']}"
    )
    table = Table(title=title, show_lines=False)
    table.add_column("村 village")
    for col in ("应转移户/人", "已转移户/人", "安置缺口人", "排查隐患点", "险情"):
        table.add_column(col, justify="right")
    for v in s["village_figures"]:
        table.add_row(
            v["name"],
            f"{v['households_to_relocate']}/{v['people_to_relocate']}",
            f"{v['households_relocated']}/{v['people_relocated']}",
            str(v["shortfall_people"]),
            str(v["hazard_points_inspected"]),
            str(v["hazard_points_dangerous"]),
        )
    table.add_row(
        "合计",
        f"{s['households_to_relocate']}/{s['people_to_relocate']}",
        f"{s['households_relocated']}/{s['people_relocated']}",
        str(s["shelter_shortfall_people"]),
        str(s["hazard_points_inspected"]),
        str(s["hazard_points_dangerous"]),
        style="bold",
    )
    console.print(table)
    console.print(
        f"特殊群体已转移 {s['vulnerable_households_relocated']} 户；启用安置点 {s['shelters_used']} 处；"
        f"道路中断 {s['roads_blocked']} 处、已抢通 {s['roads_cleared']} 处"
    )
    chans = "、".join(f"{k} {v}" for k, v in s["notices_by_channel"].items())
    console.print(f"通知 {files} 条（{chans}）；报告 {len(s['reports'])} 份")
    console.print(
        f"输出 / output: {s['out_dir']}  (summary.json, notices/, reports/)  用时 {s['flow_seconds']} s"
    )
    # Through real endpoints: say plainly what did not go, and why.
    for channel, counts in s.get("delivery", {}).items():
        left = {k: v for k, v in counts.items() if k in ("pending", "failed", "expired") and v}
        if left:
            why = s.get("delivery_errors", {}).get(channel, "")
            err.print(
                f"[bold yellow]未送达 / not delivered[/] {channel}: "
                + "，".join(f"{k} {v}" for k, v in left.items())
                + (f"（{why}）" if why else "")
            )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address of the local Prefect server.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="Port of the local Prefect server (UI and API).")
    ] = 4200,
    limit: Annotated[
        int, typer.Option(help="Flow runs at once (runs waiting for an answer count).")
    ] = 16,
) -> None:
    """Open the control room: a Prefect server (unless PREFECT_API_URL is set) and every deployment."""
    from sanqing.prefect_server import LocalPrefectServer
    from sanqing.registry import ensure_registry, town_dirs

    settings = get_settings()
    prepare_prefect_env(settings)
    for town_dir in town_dirs():
        ensure_registry(town_dir.name)
    server = None
    if not os.environ.get("PREFECT_API_URL"):
        server = LocalPrefectServer(settings.data_dir / "prefect-server", host=host, port=port)
        with console.status(f"启动 Prefect 服务 / starting the Prefect server on {host}:{port}…"):
            server.start()
        os.environ["PREFECT_API_URL"] = server.api_url
        ui = server.ui_url
    else:
        ui = os.environ["PREFECT_API_URL"].removesuffix("/api")
    console.print(f"控制台 / control room: [bold]{ui}[/]  (Ctrl-C to stop)")
    if settings.ack_url and settings.ack_secret:  # cadres' 收到 links land here
        from sanqing.ack_server import AckServer

        acks = AckServer(host, settings.ack_port)
        acks.start_in_background()
        console.print(f"收到链接接收端 / ack receiver: {acks.url} (links: {settings.ack_url})")
    from flows.deployments import serve_all

    try:
        serve_all(limit=limit)
    except KeyboardInterrupt:
        pass
    finally:  # the serve loop stops first, then the server it talks to
        if server is not None:
            server.stop()


@app.command()
def patrol(
    name: Annotated[str, typer.Option(help="Who led the after-rain patrol (巡查负责人).")],
    town: Annotated[str, typer.Option(help="Town key, code or name.")] = DEFAULT_TOWN,
    danger: Annotated[
        list[str] | None,
        typer.Option(help="A hazard point (name or code) still in danger; repeat for several."),
    ] = None,
    remarks: Annotated[str, typer.Option(help="What the patrol saw.")] = "",
    locale: Annotated[str, typer.Option(help="Language of the final report.")] = DEFAULT_LOCALE,
) -> None:
    """Record the after-rain patrol (雨后巡查) of the town's running response.

    All clear (no --danger): a stand-down waiting for it happens now, with the final
    report (终报). With --danger the response goes on and residents stay away.
    """
    from sanqing import command, response
    from sanqing.answers import PatrolAnswer
    from sanqing.db import session_scope
    from sanqing.plans import load_plan
    from sanqing.registry import ensure_registry

    try:
        town_code = ensure_registry(town)
        plan = load_plan()
        answer = PatrolAnswer(
            all_clear=not danger, name=name, dangers=danger or [], remarks=remarks
        )
        with session_scope() as session:
            act = response.open_activation(
                session, town_code=town_code, plan=plan.plan, drill=False
            )
            if act is None:
                raise SanqingError(f"{town}: no running response to patrol for")
            done = command.record_patrol(
                session, activation_id=act.id, plan=plan, answer=answer, locale=locale
            )
            act_id = act.id
    except (SanqingError, ValueError) as exc:
        raise _fail(exc) from exc
    if done:
        console.print(f"雨后巡查确认安全：{act_id} 应急响应已结束，终报已生成。")
    elif danger:
        console.print(f"雨后巡查仍有险情：{act_id} 应急响应继续，群众不得返回。")
    else:
        console.print(f"雨后巡查已记录：{act_id} 尚未申请结束响应，解除后即可结束。")


@app.command()
def ack(
    cadre: Annotated[str, typer.Argument(help="The cadre who answered: name or code.")],
    town: Annotated[str, typer.Option(help="Town key, code or name.")] = DEFAULT_TOWN,
    note: Annotated[str, typer.Option(help="What they said.")] = "",
) -> None:
    """Record that a cadre acknowledged their tasks (叫应): resends and hand-ups stop."""
    from sanqing.acknowledge import acknowledge
    from sanqing.db import session_scope
    from sanqing.registry import ensure_registry
    from sanqing.response import open_activation

    try:
        town_code = ensure_registry(town)
        with session_scope() as session:
            act = open_activation(session, town_code=town_code, plan="flood", drill=False)
            if act is None:
                raise SanqingError(f"{town}: no running response")
            n = acknowledge(session, activation_id=act.id, cadre=cadre, note=note)
    except SanqingError as exc:
        raise _fail(exc) from exc
    console.print(f"已叫应：{cadre} 的 {n} 份任务记为已回复。")


@app.command("ack-server")
def ack_server(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port (default SANQING_ACK_PORT, 8765).")] = None,
) -> None:
    """Receive cadres' 收到 links (叫应) until interrupted."""
    from sanqing.ack_server import AckServer
    from sanqing.db import init_db

    settings = get_settings()
    if not settings.ack_secret:
        raise _fail(SanqingError("set SANQING_ACK_SECRET: it signs the 收到 links"))
    init_db()
    server = AckServer(host, port or settings.ack_port)
    console.print(f"收到链接接收端 / ack receiver: [bold]{server.url}[/]  (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@app.command()
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


warnings_app = typer.Typer(help="Warnings from feeds: read, decide, respond.", no_args_is_help=True)
app.add_typer(warnings_app, name="warnings")


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
            raise _fail(ValueError(f"--now {now!r} is not an ISO time")) from exc
        if clock.tzinfo is None:
            raise _fail(
                ValueError(f"--now {now!r} needs an offset, e.g. 2026-07-12T20:00:00+08:00")
            )
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
        raise _fail(exc) from exc
    if respond:  # this ingest's decisions, and any left pending by an earlier run
        prepare_prefect_env(get_settings())
        from flows.rain_watch import carry_out
        from sanqing.feeds.watch import pending_decisions

        with session_scope() as session:
            pending = pending_decisions(session=session, now=clock)
        for p in pending:
            carry_out(p, plan="flood", locale=get_settings().locale)
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


if __name__ == "__main__":  # pragma: no cover
    app()

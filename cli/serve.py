"""``sanqing serve`` (the control room) and ``sanqing ack-server`` (收到 links, receipts)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from cli.common import console, fail, prepare_prefect_env
from sanqing.errors import SanqingError
from sanqing.settings import get_settings


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


def ack_server(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port (default SANQING_ACK_PORT, 8765).")] = None,
) -> None:
    """Receive cadres' 收到 links (叫应) until interrupted."""
    from sanqing.ack_server import AckServer
    from sanqing.db import init_db

    settings = get_settings()
    if not settings.ack_secret:
        raise fail(SanqingError("set SANQING_ACK_SECRET: it signs the 收到 links"))
    init_db()
    server = AckServer(host, port or settings.ack_port)
    console.print(f"收到链接接收端 / ack receiver: [bold]{server.url}[/]  (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()

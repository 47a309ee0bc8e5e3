"""``sanqing serve`` (the control room) and ``sanqing ack-server`` (收到 links, receipts)."""

from __future__ import annotations

import ipaddress
import os
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import check_folders, console, fail, plain, prepare_prefect_env
from sanqing.errors import SanqingError
from sanqing.settings import Settings, get_settings

if TYPE_CHECKING:
    from sanqing.board.server import BoardServer
    from sanqing.prefect_server import LocalPrefectServer

#: Prefect's server enforces HTTP basic auth with this ("user:password"); its clients
#: send PREFECT_API_AUTH_STRING.
AUTH_SETTING = "PREFECT_SERVER_API_AUTH_STRING"
CLIENT_AUTH_SETTING = "PREFECT_API_AUTH_STRING"
#: The situation board's port (``--board-port``).
BOARD_PORT = 4300


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name could resolve to anything: treat it as the network


def serve(
    host: Annotated[
        str,
        typer.Option(
            help=f"Address of the local Prefect server; off loopback it needs {AUTH_SETTING}."
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="Port of the local Prefect server (UI and API).")
    ] = 4200,
    limit: Annotated[
        int, typer.Option(help="Flow runs at once (runs waiting for an answer count).")
    ] = 16,
    board_port: Annotated[
        int,
        typer.Option(help="Port of the situation board (态势看板), on the same address; 0: none."),
    ] = BOARD_PORT,
) -> None:
    """Open the control room: a Prefect server (unless PREFECT_API_URL is set), every
    deployment, and the situation board (态势看板) on --board-port."""
    settings = get_settings()
    # Prefect reads its settings once, at import: everything goes to the environment first.
    external = os.environ.get("PREFECT_API_URL")
    auth = os.environ.get(AUTH_SETTING)
    if not external and not is_loopback(host) and not auth:
        raise fail(
            SanqingError(
                f"--host {host} is not a loopback address: the Prefect API and UI would be "
                f"open to the network with no password. Set {AUTH_SETTING}=user:password "
                "(the server then asks for it), or serve on 127.0.0.1"
            )
        )
    prepare_prefect_env(settings)
    board = _board(host, board_port, auth) if board_port else None  # a taken port: refused first
    server = None if external else _local_server(settings, host, port)
    if auth:  # the runs serve starts, and serve itself, are clients of that server
        os.environ.setdefault(CLIENT_AUTH_SETTING, auth)
    _load_registries_and_start(server, host, port)
    ui = _control_room_url(server)
    console.print(
        plain("控制台 / control room: ") + plain(ui, "bold") + plain("  (Ctrl-C to stop)")
    )
    if board is not None:
        board.api_url = os.environ["PREFECT_API_URL"]
        board.ui_url = ui
        board.start_in_background()
        # the runs serve starts link their print folder to the board (unless set already)
        os.environ.setdefault("SANQING_BOARD_URL", _reachable(board.url))
        get_settings.cache_clear()
        console.print(plain("态势看板 / situation board: ") + plain(board.url, "bold"))
    if settings.ack_url and settings.ack_secret:  # cadres' 收到 links land here
        _start_ack_receiver(settings, host, server)
    _serve_deployments(server, limit)


def _board(host: str, port: int, auth: str | None) -> BoardServer:
    """The situation board's server, bound now (not serving yet); the Prefect password on it."""
    from sanqing.board.server import BoardServer

    try:
        return BoardServer(host, port, auth=auth, api_auth=auth)
    except OSError as exc:
        raise fail(
            SanqingError(
                f"situation board on {host}:{port}: {exc.strerror}; "
                "choose another --board-port (0: no board)"
            )
        ) from exc


def _reachable(url: str) -> str:
    """A wildcard address (0.0.0.0, ::) as this machine's loopback: a link must be openable."""
    return url.replace("//0.0.0.0:", "//127.0.0.1:").replace("//[::]:", "//[::1]:")


def _local_server(settings: Settings, host: str, port: int) -> LocalPrefectServer:
    """Our own Prefect server under the data directory, its port checked free (not started)."""
    from sanqing.prefect_server import LocalPrefectServer

    server = LocalPrefectServer(settings.data_dir / "prefect-server", host=host, port=port, ui=None)
    try:
        server.check_port()
    except SanqingError as exc:
        raise fail(exc) from exc
    return server


def _load_registries_and_start(server: LocalPrefectServer | None, host: str, port: int) -> None:
    """Every configured town's registry loaded, then our server (if any) started."""
    from sanqing.registry import ensure_registry, town_dirs

    try:
        for town_dir in town_dirs():
            ensure_registry(town_dir.name)
        if server is not None:
            with console.status(
                f"启动 Prefect 服务 / starting the Prefect server on {host}:{port}…"
            ):
                server.start()
    except SanqingError as exc:
        raise fail(exc) from exc


def _control_room_url(server: LocalPrefectServer | None) -> str:
    """The UI's address; runs and the serve loop talk to our server's API from here on."""
    if server is not None:
        os.environ["PREFECT_API_URL"] = server.api_url
        return server.ui_url
    return os.environ["PREFECT_API_URL"].removesuffix("/api")


def _start_ack_receiver(settings: Settings, host: str, server: LocalPrefectServer | None) -> None:
    """The receiver of cadres' 收到 links, in the background (our server stops if it cannot)."""
    from sanqing.delivery.ack_server import AckServer

    try:
        acks = AckServer(host, settings.ack_port)
    except OSError as exc:
        if server is not None:
            server.stop()
        raise fail(
            SanqingError(f"ack receiver on {host}:{settings.ack_port}: {exc.strerror}")
        ) from exc
    acks.start_in_background()
    console.print(plain(f"收到链接接收端 / ack receiver: {acks.url} (links: {settings.ack_url})"))


def _serve_deployments(server: LocalPrefectServer | None, limit: int) -> None:
    """Serve every deployment until interrupted; then the serve loop stops, then our server."""
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
    """Receive cadres' 收到 links (叫应) until interrupted.

    Off loopback it is protected by its own secrets: a link is HMAC-signed
    (SANQING_ACK_SECRET) and a receipt needs SANQING_RECEIPT_TOKEN.
    """
    from sanqing.db import init_db
    from sanqing.delivery.ack_server import AckServer

    settings = get_settings()
    if not settings.ack_secret:
        raise fail(SanqingError("set SANQING_ACK_SECRET: it signs the 收到 links"))
    check_folders(settings)
    try:
        init_db()
        server = AckServer(host, port or settings.ack_port)
    except SanqingError as exc:
        raise fail(exc) from exc
    except OSError as exc:
        raise fail(SanqingError(f"{host}:{port or settings.ack_port}: {exc.strerror}")) from exc
    console.print(
        plain("收到链接接收端 / ack receiver: ")
        + plain(server.url, "bold")
        + plain("  (Ctrl-C to stop)")
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()

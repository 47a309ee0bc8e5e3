"""What `init`, `drill` and `serve` check before any work: one line and exit 2 when it is wrong.

Tests run as root here, and root writes anywhere: an unwritable folder is one under
a regular file (NotADirectoryError for everyone).
"""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select
from typer.testing import CliRunner

from cli import app
from sanqing import db
from sanqing.models import Activation, Town
from sanqing.settings import get_settings
from tests.conftest import TEST_PG_URL


def run(*args: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(app, list(args))
    # a traceback is not an answer: only an orderly exit (typer.Exit → SystemExit) is
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output.splitlines()


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    f = tmp_path / "file"
    f.write_text("not a folder", encoding="utf-8")
    return f


def one_error_line(lines: list[str], *expected: str) -> None:
    (line,) = lines
    assert line.startswith("错误 / error: "), line
    for e in expected:
        assert e in line, line


def test_an_unwritable_out_folder_stops_the_drill_before_anything(
    db_url: str, a_file: Path
) -> None:
    code, lines = run("drill", "--out", str(a_file / "sub"))
    assert code == 2
    one_error_line(lines, str(a_file / "sub"), "Not a directory", "--out")
    with db.session_scope() as s:  # nothing was started
        assert s.exec(select(func.count()).select_from(Activation)).one() == 0
        assert s.exec(select(func.count()).select_from(Town)).one() == 0


@pytest.mark.parametrize(
    "command", [("init",), ("drill", "--out", "OUT"), ("serve", "--port", "1"), ("ack-server",)]
)
def test_an_unwritable_data_dir_is_one_line_for_every_command(
    command: tuple[str, ...], a_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANQING_DATA_DIR", str(a_file / "data"))
    monkeypatch.setenv("SANQING_ACK_SECRET", "s")
    get_settings.cache_clear()
    args = [str(tmp_path / "out") if a == "OUT" else a for a in command]
    code, lines = run(*args)
    assert code == 2
    one_error_line(lines, "SANQING_DATA_DIR", str(a_file / "data"), "Not a directory")


@pytest.mark.parametrize("variable", ["SANQING_TEMPLATES_DIR", "SANQING_CONFIG_DIR"])
@pytest.mark.parametrize("command", [("status",), ("drill",), ("cards",)])
def test_a_config_or_templates_folder_that_is_not_there_is_one_line(
    variable: str, command: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, str(tmp_path / "nowhere"))
    get_settings.cache_clear()
    try:
        code, lines = run(*command)
    finally:
        monkeypatch.delenv(variable)
        get_settings.cache_clear()
    assert code == 2
    one_error_line(lines, variable, str(tmp_path / "nowhere"))


def test_a_database_that_cannot_be_opened_is_one_line(
    db_url: str, a_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if db_url.startswith("sqlite"):
        bad, shown = f"sqlite:///{a_file / 'sanqing.db'}", str(a_file / "sanqing.db")
    else:
        assert TEST_PG_URL is not None
        name = f"nowhere_{uuid.uuid4().hex[:8]}"
        bad, shown = TEST_PG_URL.rsplit("/", 1)[0] + f"/{name}", name
    monkeypatch.setenv("SANQING_DATABASE_URL", bad)
    get_settings.cache_clear()
    db.reset_engines()
    code, lines = run("init")
    assert code == 2
    one_error_line(lines, "SANQING_DATABASE_URL", shown)


def test_a_password_in_the_database_url_is_not_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SANQING_DATABASE_URL", "postgresql+psycopg://sanqing:s3cret@127.0.0.1:1/nowhere"
    )
    get_settings.cache_clear()
    db.reset_engines()
    code, lines = run("init")
    assert code == 2
    one_error_line(lines, "SANQING_DATABASE_URL", "127.0.0.1:1/nowhere")
    assert "s3cret" not in lines[0]


def test_serve_refuses_a_port_another_process_holds(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, lines = run("serve", "--port", str(port))
    assert code == 2
    one_error_line(lines, f"127.0.0.1:{port}", "in use")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.org"])
def test_serve_off_loopback_needs_an_auth_string(
    host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREFECT_SERVER_API_AUTH_STRING", raising=False)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    code, lines = run("serve", "--host", host)
    assert code == 2
    one_error_line(lines, host, "PREFECT_SERVER_API_AUTH_STRING")
    assert not os.environ.get("PREFECT_API_URL")  # nothing was started


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_hosts_need_no_auth_string(host: str) -> None:
    from cli.serve import is_loopback

    assert is_loopback(host)

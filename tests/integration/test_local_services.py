"""`krel local up|down|status` on the real docker-registry: idempotent, outlives the command, refuses a busy port."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from releng.registry.localserver import free_port
from typer.testing import CliRunner

from krel.app import app


@pytest.fixture
def local_env(krel_home: Path, monkeypatch: pytest.MonkeyPatch, cli: CliRunner) -> Iterator[str]:
    address = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("KREL_LOCAL_REGISTRY", address)
    yield address
    cli.invoke(app, ["local", "down"])


def _status(cli: CliRunner) -> dict[str, object]:
    result = cli.invoke(app, ["local", "status", "--json"])
    assert result.exit_code == 0, result.output
    (registry,) = json.loads(result.stdout)
    return dict(registry)


def test_up_is_idempotent_and_outlives_the_command(cli: CliRunner, krel_home: Path, local_env: str) -> None:
    assert _status(cli)["state"] == "stopped"
    first = cli.invoke(app, ["local", "up", "--json"])
    assert first.exit_code == 0, first.output
    (started,) = json.loads(first.stdout)
    assert started["changed"] is True and started["state"] == "running" and started["address"] == local_env
    assert httpx.get(f"http://{local_env}/v2/", timeout=2).status_code == 200
    again = json.loads(cli.invoke(app, ["local", "up", "--json"]).stdout)[0]
    assert again["changed"] is False and again["pid"] == started["pid"]
    assert (krel_home / "registry" / "registry.pid").is_file()

    down = json.loads(cli.invoke(app, ["local", "down", "--json"]).stdout)[0]
    assert down["changed"] is True and down["state"] == "stopped"
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://{local_env}/v2/", timeout=1)
    assert cli.invoke(app, ["local", "down"]).exit_code == 0  # idempotent
    assert not (krel_home / "registry" / "registry.pid").exists()


def test_busy_port_is_a_one_line_error(cli: CliRunner, local_env: str) -> None:
    port = int(local_env.rsplit(":", 1)[1])
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        result = cli.invoke(app, ["local", "up"])
    assert result.exit_code == 1
    assert f"127.0.0.1:{port} is in use by another program" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_recycled_pid_is_never_signalled(cli: CliRunner, krel_home: Path, local_env: str) -> None:
    pid_file = krel_home / "registry" / "registry.pid"
    pid_file.parent.mkdir(parents=True)
    # The pid file names this test process: a stale record whose pid now belongs to another program.
    pid_file.write_text(f"{os.getpid()} {local_env.rsplit(':', 1)[1]}\n")
    assert _status(cli)["state"] == "stopped"
    assert cli.invoke(app, ["local", "down"]).exit_code == 0  # would have killed pytest otherwise


@pytest.mark.parametrize("address", ["10.0.0.1:5000", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:http", "[::1]:x"])
def test_bad_addresses_are_usage_errors(cli: CliRunner, krel_home: Path, monkeypatch: pytest.MonkeyPatch,
                                        address: str) -> None:
    monkeypatch.setenv("KREL_LOCAL_REGISTRY", address)
    result = cli.invoke(app, ["local", "up"])
    assert result.exit_code == 2, result.output
    assert "KREL_LOCAL_REGISTRY" in result.output

"""`ticketing serve` as a new user starts it: a subprocess on the embedded stack, used over HTTP."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ticketing.embedded import EmbeddedStack, free_port

BIN = Path(sys.executable).parent


def _call(
    method: str, url: str, body: dict[str, Any] | None = None, token: str | None = None
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def serve_env(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    """The environment of `ticketing serve` as a new user has it: nothing of the suite's."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "REDIS_URL", "TICKETING_"))
    }
    env.update(TICKETING_DATA_DIR=str(data_dir), TICKETING_PORT=str(port), TICKETING_WORKERS="2")
    env.update(extra)
    return env


def _start(data_dir: Path, port: int) -> subprocess.Popen[str]:
    """(Its output is read when it stops: for a server that logs little.)"""
    return subprocess.Popen(
        [str(BIN / "ticketing"), "serve"],
        env=serve_env(data_dir, port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_ready(proc: subprocess.Popen[str], base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            if _call("GET", f"{base}/health/ready")[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.2)
    pytest.fail("ticketing serve did not become ready")


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)  # as Ctrl-C
    output, _ = proc.communicate(timeout=60)
    return output


@dataclass
class _Served:
    proc: subprocess.Popen[str]
    output: str = ""  # what it printed, once stopped


@contextmanager
def _serving(data_dir: Path, port: int) -> Iterator[_Served]:
    """`ticketing serve` on `data_dir` and `port`, ready; stopped as by Ctrl-C when the
    block ends, its output then in `.output`."""
    served = _Served(_start(data_dir, port))
    try:
        _wait_ready(served.proc, f"http://127.0.0.1:{port}")
        yield served
    finally:
        served.output = _stop(served.proc)


def _server_processes(data_dir: Path) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if str(data_dir) in cmdline:
                found.append(cmdline)
    return found


def test_serve_on_embedded_stack_keeps_data_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with _serving(data_dir, port) as server:
        token = (data_dir / "admin-token").read_text().strip()
        status, event = _call(
            "POST",
            f"{base}/events",
            {
                "eventName": "E2E",
                "eventLocation": "Here",
                "eventDateTimeStamp": "2027-01-01T20:00:00Z",
                "numSeats": 10,
            },
            token,
        )
        assert status == 201
        status, signed = _call("POST", f"{base}/customers", {"firstName": "N", "lastName": "U"})
        assert status == 201
        status, problem = _call("POST", f"{base}/events", {}, signed["token"])
        assert status == 403
        assert problem["code"] == "FORBIDDEN"
        assert _call("GET", f"{base}/api/openapi.json")[0] == 200
    first_output = server.output
    assert server.proc.returncode == 0, first_output
    assert token in first_output  # printed on first start
    assert not _server_processes(data_dir), "embedded servers left running"

    with _serving(data_dir, port) as server:
        status, fetched = _call("GET", f"{base}/events/{event['id']}")
        assert status == 200
        assert fetched["eventName"] == "E2E"
        assert (data_dir / "admin-token").read_text().strip() == token
        status, _ = _call(
            "GET", f"{base}/customers/{signed['customer']['id']}", token=signed["token"]
        )
        assert status == 200  # sessions survive a restart of the embedded stack
    second_output = server.output
    assert token not in second_output
    assert not _server_processes(data_dir)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"TICKETING_PORT": "http"}, "TICKETING_PORT"),
        ({"TICKETING_PORT": "70000"}, "TICKETING_PORT"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"TICKETING_LOG_LEVEL": "loud"}, "TICKETING_LOG_LEVEL"),
        ({"TICKETING_ADMIN_TOKEN": "short"}, "TICKETING_ADMIN_TOKEN"),
    ],
)
def test_bad_setting_exits_2_with_one_line(tmp_path: Path, env: dict[str, str], named: str) -> None:
    result = subprocess.run(
        [str(BIN / "ticketing"), "serve"],
        env={**os.environ, "TICKETING_DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert named in lines[0]
    assert not (tmp_path / "postgres").exists()  # nothing was started


def test_db_reset_refuses_without_yes(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(BIN / "ticketing"), "db", "reset"],
        env={**os.environ, "TICKETING_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "--yes" in result.stderr


def test_check_command_probes_a_running_server(served: str) -> None:
    port = served.rsplit(":", 1)[1]
    ticketing = shutil.which("ticketing", path=str(Path(sys.executable).parent))
    assert ticketing is not None
    for args in ([], ["--ready"]):
        ok = subprocess.run(
            [ticketing, "check", "--port", port, *args], capture_output=True, check=False
        )
        assert ok.returncode == 0, ok.stderr
    from ticketing.embedded import free_port

    down = subprocess.run(
        [ticketing, "check", "--port", str(free_port())],
        capture_output=True,
        text=True,
        check=False,
    )
    assert down.returncode == 1
    assert "ticketing:" in down.stderr


def _exits(proc: subprocess.Popen[str], within: float = 60) -> str:
    output, _ = proc.communicate(timeout=within)
    return output


def test_a_second_server_on_a_data_folder_or_port_in_use_refuses_to_start(
    tmp_path: Path,
) -> None:
    data_dir, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    with _serving(data_dir, port) as first:
        same_folder = _start(data_dir, free_port())
        refused = _exits(same_folder)
        assert same_folder.returncode == 1, refused
        assert f"is in use by process {first.proc.pid}" in refused, refused
        same_port = _start(tmp_path / "other", port)
        refused = _exits(same_port)
        assert same_port.returncode == 2, refused
        assert f"port {port} on 127.0.0.1 is in use" in refused, refused
        assert not _server_processes(tmp_path / "other")
        assert _call("GET", f"{base}/health/ready")[0] == 200  # the first is untouched
    output = first.output
    assert first.proc.returncode == 0, output
    with _serving(data_dir, port):  # the folder is free once its server stopped
        pass


def test_db_reset_leaves_nothing_behind_in_redis(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    with _serving(data_dir, port):
        token = (data_dir / "admin-token").read_text().strip()
        body = {
            "eventName": "Before the reset",
            "eventLocation": "Here",
            "eventDateTimeStamp": "2027-01-01T20:00:00Z",
            "numSeats": 10,
        }
        _, event = _call("POST", f"{base}/events", body, token)
        _, fan = _call("POST", f"{base}/customers", {"firstName": "N", "lastName": "U"})
        status, _ = _call(
            "POST", f"{base}/events/{event['id']}/holds", {"quantity": 2}, fan["token"]
        )
        assert status == 201
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL"))}
    env["TICKETING_DATA_DIR"] = str(data_dir)
    reset = subprocess.run(
        [str(BIN / "ticketing"), "db", "reset", "--yes"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert "Redis keys" in reset.stdout
    with _serving(data_dir, port):
        # The deleted customer's token is gone with them: it can neither read nor hold.
        status, _ = _call("GET", f"{base}/customers/{fan['customer']['id']}", token=fan["token"])
        assert status == 401
        _, event2 = _call("POST", f"{base}/events", {**body, "eventName": "After"}, token)
        status, _ = _call(
            "POST", f"{base}/events/{event2['id']}/holds", {"quantity": 1}, fan["token"]
        )
        assert status == 401
        # The wiped event answers nothing from Redis either.
        for path in ("availability", "open-count", "seats"):
            assert _call("GET", f"{base}/events/{event['id']}/{path}")[0] == 404, path
        status, fresh = _call("GET", f"{base}/events/{event2['id']}/availability")
        assert (status, fresh["onHold"], fresh["open"]) == (200, 0, 10)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return False  # gone altogether


def _pid(path: Path) -> int:
    return int(path.read_text().split()[0])


def _recovers(base: str, within: float = 30) -> float:
    """Seconds until the service answers a write that needs both PostgreSQL and Redis."""
    started = time.monotonic()
    body = {"firstName": "Back", "lastName": "Again"}
    while time.monotonic() - started < within:
        try:
            if _call("POST", f"{base}/customers", body)[0] == 201:
                return time.monotonic() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(f"the service did not recover within {within} s")


def test_embedded_servers_that_die_are_restarted_and_the_service_recovers(
    tmp_path: Path,
) -> None:
    data_dir, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    with _serving(data_dir, port) as server:
        _recovers(base)
        for pid_file in (
            data_dir / "valkey" / "valkey.pid",
            data_dir / "postgres" / "postmaster.pid",
        ):
            dead = _pid(pid_file)
            os.kill(dead, signal.SIGKILL)  # as kill -9
            _recovers(base)
            assert _pid(pid_file) != dead  # a new server, not the old one come back
            assert not _zombie(dead), "the dead server was left a zombie"
    output = server.output
    assert server.proc.returncode == 0, output
    assert "embedded Valkey exited" in output, output
    assert "embedded PostgreSQL exited" in output, output
    assert not _server_processes(data_dir)


def test_db_seed_makes_one_demo_event_however_often_it_runs(stack: EmbeddedStack) -> None:
    assert stack.postgres is not None
    assert stack.valkey is not None
    env = {**os.environ, "DATABASE_URL": stack.postgres.url, "REDIS_URL": stack.valkey.url}
    said = []
    for _ in range(2):
        seeded = subprocess.run(
            [str(BIN / "ticketing"), "db", "seed"],
            env=env, capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        assert seeded.returncode == 0, seeded.stdout + seeded.stderr
        said.append(seeded.stdout.strip())
    first, second = (line.rsplit("/events/", 1)[1] for line in said)
    assert first == second
    assert said[1].startswith("The demo event is already there")

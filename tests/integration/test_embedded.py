"""The embedded stack shares its servers with a live owner and cleans up after a dead one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ticketing.embedded import EmbeddedStack

_START_AND_WAIT = """
import sys, time
from pathlib import Path
from ticketing.embedded import EmbeddedStack
stack = EmbeddedStack(Path(sys.argv[1]), durable=False).__enter__()
print(stack.postgres.port, stack.valkey.port, flush=True)
time.sleep(600)
"""


def _alive(pid_file: Path) -> bool:
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


def test_second_command_attaches_and_leaves_servers_running(tmp_path: Path) -> None:
    with EmbeddedStack(tmp_path, durable=False) as owner:
        assert owner.postgres is not None
        assert owner.valkey is not None
        script = (
            "from pathlib import Path\n"
            "from ticketing.embedded import EmbeddedStack\n"
            f"with EmbeddedStack(Path({str(tmp_path)!r}), durable=False) as s:\n"
            "    print(s.postgres.attached, s.valkey.attached, s.postgres.port, s.valkey.port)\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        )
        assert result.stdout.split() == [
            "True",
            "True",
            str(owner.postgres.port),
            str(owner.valkey.port),
        ]
        assert owner.postgres.running
        assert owner.valkey.running
    assert not (tmp_path / "postgres.owner").exists()


def test_servers_of_a_killed_owner_are_replaced(tmp_path: Path) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", _START_AND_WAIT, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert owner.stdout is not None
    assert owner.stdout.readline().strip()  # started
    owner.send_signal(signal.SIGKILL)  # as `kill -9` of `ticketing serve`
    owner.wait()
    postmaster = tmp_path / "postgres" / "postmaster.pid"
    assert _alive(postmaster)  # the orphaned server still runs
    with EmbeddedStack(tmp_path, durable=False) as fresh:
        assert fresh.postgres is not None
        assert not fresh.postgres.attached
        assert fresh.postgres.running
    deadline = time.monotonic() + 10
    while _alive(postmaster) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(postmaster)

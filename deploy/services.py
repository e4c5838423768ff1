"""Start TokenTally's services as local processes (used by ``deploy/run.sh`` and the e2e tests).

Each service runs as ``python -m services.<name>`` with its settings in the environment.
HTTP services are ready when ``/healthz`` answers; consumers when FastStream reports
that its subscribers started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local_clickhouse import PROJECT_ROOT, LocalServerError, log_tail

HTTP_PORT_VARIABLES = {
    "ingest": "INGEST_PORT",
    "pricing": "PRICING_PORT",
    "invoicing": "INVOICING_PORT",
    "alerts": "ALERTS_PORT",
    "aggregator": "AGGREGATOR_PORT",
    "dashboard": "DASHBOARD_PORT",
}
CONSUMER_READY_MARKER = "FastStream app started successfully"


@dataclass
class ServiceProcess:
    name: str
    env: dict[str, str]
    log_path: Path
    module: str | None = None
    """What ``python -m`` runs; ``services.<name>`` unless set (tests pin the alerts clock this way)."""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def port(self) -> int | None:
        variable = HTTP_PORT_VARIABLES.get(self.name)
        return int(self.env[variable]) if variable and variable in self.env else None

    @property
    def url(self) -> str | None:
        return f"http://127.0.0.1:{self.port}" if self.port else None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self, timeout: float = 60.0) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module or f"services.{self.name}"],
                cwd=PROJECT_ROOT, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise LocalServerError(f"{self.name} exited during start-up:\n{log_tail(self.log_path)}")
            if self._is_ready():
                return
            time.sleep(0.1)
        raise LocalServerError(f"{self.name} not ready within {timeout:.0f}s:\n{log_tail(self.log_path)}")

    def _is_ready(self) -> bool:
        if self.url:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as reply:
                    return reply.status == 200
            except (urllib.error.URLError, OSError):
                return False
        with self.log_path.open("rb") as log:
            log.seek(self._log_offset)
            return CONSUMER_READY_MARKER.encode() in log.read()

    def stop(self, timeout: float = 20.0) -> None:
        self._signal(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to commit offsets or flush anything."""
        self._signal(signal.SIGKILL, 10.0)

    def _signal(self, signum: int, timeout: float) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signum)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

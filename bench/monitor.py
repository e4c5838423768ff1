"""CPU and memory of each process of the pipeline, per benchmark phase (psutil).

CPU is the process's user+system time spent during the phase divided by the phase's
wall time (1.0 = one core busy all along; this machine has two). Peak RSS is the
highest resident set seen by sampling every ``interval`` seconds during the phase, and
``peak_rss_ever_mb`` the kernel's own high-water mark (VmHWM) since the process began.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

MB = 1024 * 1024


@dataclass
class _Tracked:
    process: psutil.Process
    cpu_start: float = 0.0
    peak_rss: int = 0


@dataclass
class PhaseUsage:
    seconds: float
    processes: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"seconds": round(self.seconds, 2), "processes": self.processes}


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    # Children too: the ClickHouse/Kafka launchers are the processes themselves, but be safe.
    return times.user + times.system + times.children_user + times.children_system


def _vm_hwm(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class ProcessMonitor:
    """``with monitor.phase("http") as usage: ...`` samples every process while the block runs."""

    def __init__(self, pids: dict[str, int], interval: float = 0.25) -> None:
        self._pids = pids
        self.interval = interval
        self.phases: dict[str, PhaseUsage] = {}

    def phase(self, name: str) -> _Phase:
        return _Phase(self, name)


class _Phase:
    def __init__(self, monitor: ProcessMonitor, name: str) -> None:
        self._monitor = monitor
        self._name = name
        self._tracked: dict[str, _Tracked] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name=f"monitor-{name}", daemon=True)

    def __enter__(self) -> _Phase:
        for name, pid in self._monitor._pids.items():
            try:
                process = psutil.Process(pid)
                self._tracked[name] = _Tracked(process, _cpu_seconds(process), process.memory_info().rss)
            except psutil.Error:
                continue
        self._started = time.monotonic()
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self._monitor.interval):
            for tracked in self._tracked.values():
                try:
                    tracked.peak_rss = max(tracked.peak_rss, tracked.process.memory_info().rss)
                except psutil.Error:
                    pass

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        seconds = time.monotonic() - self._started
        usage = PhaseUsage(seconds)
        for name, tracked in self._tracked.items():
            try:
                cpu = _cpu_seconds(tracked.process) - tracked.cpu_start
                rss = tracked.process.memory_info().rss
            except psutil.Error:
                continue
            usage.processes[name] = {
                "cpu_cores": round(cpu / seconds, 3) if seconds > 0 else 0.0,
                "cpu_seconds": round(cpu, 2),
                "peak_rss_mb": round(max(tracked.peak_rss, rss) / MB, 1),
                "peak_rss_ever_mb": round(_vm_hwm(tracked.process.pid) / MB, 1),
            }
        self._monitor.phases[self._name] = usage

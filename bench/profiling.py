"""Sampling profiles of the services during a phase, with py-spy (``uvx py-spy``, from PyPI).

py-spy attaches to a running process (root, or ptrace allowed), so the services need no
code or setting of their own for it. Profiles are written in py-spy's "raw" format
(collapsed stacks, one line per stack with its sample count); ``top_frames`` turns them
into the few functions where a process spends its time, for the JSON report.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any


def py_spy_command() -> list[str]:
    if found := shutil.which("py-spy"):
        return [found]
    if uvx := shutil.which("uvx"):
        return [uvx, "py-spy"]
    raise RuntimeError("py-spy not found: `uv tool install py-spy` (or have uvx on PATH)")


def top_frames(collapsed: Path, limit: int = 15) -> dict[str, Any]:
    """Self and inclusive sample shares of the hottest functions in a collapsed-stack file."""
    self_counts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        if frames:
            self_counts[_short(frames[-1])] += count
        for frame in {_short(f) for f in frames}:
            inclusive[frame] += count
    if not total:
        return {"samples": 0}
    return {
        "samples": total,
        "self": [(frame, round(100 * count / total, 1)) for frame, count in self_counts.most_common(limit)],
        "inclusive": [(frame, round(100 * count / total, 1)) for frame, count in inclusive.most_common(limit * 2)],
    }


def _short(frame: str) -> str:
    """``handle (libs/common/kafka.py:80)`` with the site-packages prefix cut."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})" if where else name


class Profiler:
    def __init__(self, out_dir: Path, pids: dict[str, int], rate: int = 50) -> None:
        self._out_dir = out_dir
        self._pids = pids
        self._rate = rate
        self._running: list[tuple[str, Path, subprocess.Popen[bytes]]] = []
        self.summaries: dict[str, dict[str, Any]] = {}

    def start(self, phase: str) -> None:
        self._out_dir.mkdir(parents=True, exist_ok=True)
        self._phase = phase
        command = py_spy_command()
        for name, pid in self._pids.items():
            out = self._out_dir / f"{phase}-{name}.txt"
            process = subprocess.Popen(
                [*command, "record", "--pid", str(pid), "--format", "raw", "--rate", str(self._rate), "--nonblocking",
                 "--output", str(out)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self._running.append((name, out, process))

    def stop(self) -> None:
        for name, out, process in self._running:
            process.send_signal(2)  # SIGINT: py-spy writes its output and exits
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
            if out.exists():
                self.summaries[f"{self._phase}/{name}"] = {"file": str(out), **top_frames(out)}
        self._running.clear()

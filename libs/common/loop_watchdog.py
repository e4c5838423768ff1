"""Report an event loop that stops turning, with the stack that holds it.

Kafka consumers heartbeat from a task on the service's event loop: anything that holds the
loop for longer than the session timeout (10 s) gets the process dropped from its consumer
groups, and it processes nothing until it rejoins. A watchdog thread looks at a timestamp the
loop refreshes every ``tick`` seconds; when it is older than ``threshold``, it logs a warning
with the main thread's stack (what is blocking), once per stall, and how long the stall lasted
once the loop turns again. The longest stall is kept for ``/metrics`` and tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
import time
import traceback

from prometheus_client import Gauge

log = logging.getLogger(__name__)

LOOP_STALL_MAX_SECONDS = Gauge(
    "tokentally_event_loop_stall_max_seconds",
    "The longest time this process's event loop went without turning (watchdog's view)",
)


class LoopWatchdog:
    def __init__(self, threshold: float = 2.0, tick: float = 0.1) -> None:
        self.threshold = threshold
        self.tick = tick
        self.longest = 0.0
        self._beat = time.monotonic()
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._loop_thread_id = 0

    async def start(self) -> None:
        self._loop_thread_id = threading.get_ident()
        self._beat = time.monotonic()
        self._task = asyncio.create_task(self._ticker())
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="loop-watchdog", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _ticker(self) -> None:
        while True:
            now = time.monotonic()
            self._note(now - self._beat)
            self._beat = now
            await asyncio.sleep(self.tick)

    def _note(self, gap: float) -> None:
        stall = gap - self.tick
        if stall > self.longest:
            self.longest = stall
            LOOP_STALL_MAX_SECONDS.set(stall)
        if stall > self.threshold:
            log.warning("event loop was blocked for %.1fs", stall)

    def _watch(self) -> None:
        reported = 0.0
        while not self._stop.wait(self.threshold / 4):
            beat = self._beat
            if time.monotonic() - beat > self.threshold and beat != reported:
                reported = beat
                frame = sys._current_frames().get(self._loop_thread_id)
                stack = "".join(traceback.format_stack(frame)) if frame is not None else "(no frame)"
                log.warning("event loop blocked for more than %.1fs; it is at:\n%s", self.threshold, stack)

"""``TokenTally``: record usage events without waiting for the network.

``record()`` serialises the event and appends it to an in-memory buffer (a few
microseconds, no lock held while doing I/O, never a network call); one daemon thread per
``TokenTally`` sends the buffer to ``POST /v1/events`` in batches:

- a batch leaves when ``batch_size`` events are waiting, or every ``flush_interval`` seconds;
- a ``503``, ``429``, other ``5xx``, a timeout or a refused connection is retried with
  exponential backoff and jitter (``Retry-After`` honoured, capped at ``max_backoff``), with
  the very same body, hence the same ``event_id``s: ingest counts a resend once;
- events ingest refuses (``202`` with ``rejected``, or ``422``) are not retried: they are
  logged and passed to ``on_problem``; a ``401``/``403``/``413``/``415`` drops the batch the same way;
- ``flush()`` waits until everything recorded so far is delivered; ``close()`` (also run at
  interpreter exit and by ``with``) flushes for up to ``shutdown_timeout`` seconds.

**Bounded buffer.** While ingest is unreachable events accumulate up to ``max_buffer``
(default 100,000 events, about 40 MB as serialised JSON; plus the one batch being retried).
When it is full, ``overflow="drop_newest"`` (default) refuses new events and
``overflow="drop_oldest"`` discards the oldest waiting one to make room; either way the
event is counted in ``stats().dropped``, reported to ``on_problem``, and logged once per
outage. Memory therefore never grows with the length of an outage.

Sync and asyncio: ``record()`` never awaits and never blocks, so it is the same call from
a coroutine; ``aflush()``/``aclose()`` and ``async with`` wait without blocking the event loop.
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import json
import logging
import os
import random
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from types import TracebackType
from typing import Any, Literal

import httpx

from tokentally.usage import is_usage, usage_dict

__all__ = ["Problem", "Stats", "TokenTally"]

log = logging.getLogger("tokentally")

Overflow = Literal["drop_newest", "drop_oldest"]
TOKEN_FIELDS = frozenset({"input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
                          "reasoning_tokens", "cache_write_1h_tokens", "input_audio_tokens", "output_audio_tokens",
                          "cache_audio_read_tokens", "input_image_tokens", "cache_image_read_tokens",
                          "output_image_tokens"})
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

#: A recorded call as buffered: (event_id, client_id, provider, model, timestamp (datetime or
#: epoch seconds), usage object or None, token counts, project, tags). Encoded by the sender.
_Item = tuple[str, str, str, str, "datetime | float", Any, "Mapping[str, int]", "str | None",
              "Mapping[str, str] | None"]
#: An event already encoded (when the buffer is backed up): (event_id, JSON).
_Encoded = tuple[str, bytes]


@dataclass(frozen=True)
class Problem:
    """Events that will not be billed, and why (passed to ``on_problem``)."""

    kind: Literal["rejected", "dropped", "overflow"]
    event_ids: tuple[str, ...]
    detail: str


@dataclass(frozen=True)
class Stats:
    recorded: int
    """``record()`` calls (each is later delivered, rejected, dropped, or still buffered)."""
    delivered: int
    """Events ingest accepted."""
    rejected: int
    """Events ingest refused (invalid), or dropped with a batch refused as a whole."""
    dropped: int
    """Events lost to a full buffer or to ``close()`` running out of time."""
    retries: int
    """Batch sends retried after a transient failure."""
    buffered: int
    """Events waiting now (including a batch being retried)."""


class TokenTally:
    """A client of TokenTally's ingest API that batches in the background.

    >>> tally = TokenTally("http://127.0.0.1:8000", api_key="...")
    >>> tally.record("acme", "openai", "gpt-4o", usage=response.usage)
    """

    def __init__(self, url: str, api_key: str, *, batch_size: int = 500, flush_interval: float = 1.0,
                 max_buffer: int = 100_000, overflow: Overflow = "drop_newest", timeout: float = 10.0,
                 max_backoff: float = 30.0, shutdown_timeout: float = 5.0,
                 on_problem: Callable[[Problem], None] | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        if not 1 <= batch_size <= 10_000:
            raise ValueError("batch_size must be between 1 and 10,000 (ingest's per-request limit)")
        if max_buffer < batch_size:
            raise ValueError("max_buffer must be at least batch_size")
        if overflow not in ("drop_newest", "drop_oldest"):
            raise ValueError("overflow must be 'drop_newest' or 'drop_oldest'")
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._max_buffer = max_buffer
        self._overflow = overflow
        self._max_backoff = max_backoff
        self._shutdown_timeout = shutdown_timeout
        self._on_problem = on_problem
        self._http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout, transport=transport,
                                  headers={"Authorization": f"Bearer {api_key}",
                                           "Content-Type": "application/json",
                                           "User-Agent": "tokentally-python/0.1"})
        self._queue: deque[_Item | _Encoded] = deque()
        self._compact_after = 2 * batch_size
        self._id_prefix = f"tt-{os.urandom(8).hex()}-"
        self._ids = itertools.count(1)
        self._wake = threading.Event()
        self._idle = threading.Condition()
        self._in_flight = 0
        self._closing = False
        self._close_deadline = float("inf")
        self._overflowing = False
        self._counts = {"recorded": 0, "delivered": 0, "rejected": 0, "dropped": 0, "retries": 0}
        self._worker = threading.Thread(target=self._run, name="tokentally-sender", daemon=True)
        self._worker.start()
        _close_at_exit(self)

    # --- the caller's path ------------------------------------------------------------

    def record(self, client_id: str, provider: str, model: str, usage: Any = None, *, event_id: str | None = None,
               project: str | None = None, tags: Mapping[str, str] | None = None,
               timestamp: datetime | None = None, **tokens: int) -> str:
        """Buffer one LLM call; returns its ``event_id`` (given, or a new unique one).

        ``usage`` is the vendor's usage object (``response.usage``, ``response.usage_metadata``),
        a whole response, or a dict; or give the token counts as keywords
        (``input_tokens=...``). Never blocks: see the module notes for what a full buffer does.
        Only cheap checks happen here; turning the event into JSON is the sender thread's job.
        """
        if usage is not None:
            if tokens:
                raise TypeError("give either usage or token counts, not both")
            if not is_usage(usage):
                raise TypeError(f"usage must be a vendor usage object, a response, or a dict; "
                                f"got {type(usage).__name__}")
        elif tokens and not tokens.keys() <= TOKEN_FIELDS:
            raise TypeError(f"unknown token fields: {', '.join(sorted(tokens.keys() - TOKEN_FIELDS))}")
        event_id = event_id or f"{self._id_prefix}{next(self._ids)}"
        item: _Item = (event_id, client_id, provider, model, timestamp or time.time(), usage, tokens, project, tags)
        if len(self._queue) >= self._compact_after:
            # Ingest is behind or away: hold the event as compact JSON (~0.5 KB) rather than the
            # vendor's usage object (~2.5 KB for OpenAI's), so a full buffer stays small.
            item = (event_id, encode(item))
        self._enqueue(item)
        return event_id

    def _enqueue(self, item: _Item | _Encoded) -> None:
        queue = self._queue
        self._counts["recorded"] += 1
        if self._closing:  # nobody would send it: say so instead of buffering it forever
            self._counts["dropped"] += 1
            log.error("tokentally: record() after close(); event %s dropped", item[0])
            self._report(Problem("dropped", (item[0],), "recorded after close()"))
            return
        if len(queue) >= self._max_buffer:
            if self._overflow == "drop_newest":
                self._overflowed(item[0])
                return
            try:
                oldest = queue.popleft()
            except IndexError:
                pass
            else:
                self._overflowed(oldest[0])
        queue.append(item)
        if len(queue) >= self._batch_size:
            self._wake.set()

    def _overflowed(self, event_id: str) -> None:
        self._counts["dropped"] += 1
        if not self._overflowing:
            self._overflowing = True
            log.error("tokentally: buffer full (%d events): dropping the %s events until ingest is back",
                      self._max_buffer, "newest" if self._overflow == "drop_newest" else "oldest")
        self._report(Problem("overflow", (event_id,), f"buffer full ({self._max_buffer} events)"))

    # --- flushing and closing -----------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every event recorded so far was delivered (or refused); ``False`` on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while self._queue or self._in_flight:
                self._wake.set()
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(0.05 if remaining is None else min(0.05, remaining))
        return True

    def close(self, timeout: float | None = None) -> None:
        """Flush for up to ``timeout`` (default ``shutdown_timeout``) seconds, then stop; idempotent."""
        if self._closing:
            return
        timeout = self._shutdown_timeout if timeout is None else timeout
        self._close_deadline = time.monotonic() + timeout
        self._closing = True
        self._wake.set()
        self._worker.join(timeout + 1)
        self._http.close()

    async def aflush(self, timeout: float | None = None) -> bool:
        return await asyncio.to_thread(self.flush, timeout)

    async def aclose(self, timeout: float | None = None) -> None:
        await asyncio.to_thread(self.close, timeout)

    def __enter__(self) -> TokenTally:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    async def __aenter__(self) -> TokenTally:
        return self

    async def __aexit__(self, _t: type[BaseException] | None, _e: BaseException | None,
                        _tb: TracebackType | None) -> None:
        await self.aclose()

    def stats(self) -> Stats:
        with self._idle:
            return Stats(buffered=len(self._queue) + self._in_flight, **self._counts)

    def instrument(self, client: Any, *, client_id: str, project: str | None = None,
                   tags: Mapping[str, str] | None = None) -> Any:
        """Record every call of an OpenAI, Anthropic or Google GenAI client (sync or async)."""
        from tokentally.instrument import instrument

        return instrument(client, client_id=client_id, project=project, tags=tags, tally=self)

    # --- the sender thread ------------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._wake.wait(self._flush_interval)
            self._wake.clear()
            while self._queue:
                if self._closing and time.monotonic() >= self._close_deadline:
                    break
                self._deliver(self._take())
                if len(self._queue) < self._batch_size and not self._closing:
                    break  # a partial batch waits for more events or the next interval
            with self._idle:
                self._idle.notify_all()
            if self._closing and (not self._queue or time.monotonic() >= self._close_deadline):
                self._drop_remaining()
                return

    def _take(self) -> list[tuple[str, bytes]]:
        items: list[_Item | _Encoded] = []
        with self._idle:
            while self._queue and len(items) < self._batch_size:
                items.append(self._queue.popleft())
            self._in_flight = len(items)
        if len(self._queue) < self._max_buffer:
            self._overflowing = False
        batch: list[tuple[str, bytes]] = []
        for item in items:
            try:
                batch.append(item if len(item) == 2 else (item[0], encode(item)))  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001 - one unreadable usage object loses one event only
                self._lose([(item[0], b"")], "rejected", f"cannot encode the event: {exc!r}")
        return batch

    def _deliver(self, batch: list[tuple[str, bytes]]) -> None:
        if not batch:
            with self._idle:
                self._in_flight = 0
            return
        body = b"[" + b",".join(item for _, item in batch) + b"]"
        attempt = 0
        try:
            while True:
                retry_after = self._send(batch, body)
                if retry_after is None:
                    return
                attempt += 1
                self._counts["retries"] += 1
                delay = min(self._max_backoff, max(retry_after, 0.2 * 2 ** min(attempt, 16)))
                delay *= random.uniform(0.5, 1.0)
                if self._closing:
                    remaining = self._close_deadline - time.monotonic()
                    if remaining <= delay:
                        self._lose(batch, "dropped", "ingest unreachable when closing")
                        return
                time.sleep(delay)
        finally:
            with self._idle:
                self._in_flight = 0
                self._idle.notify_all()

    def _send(self, batch: list[tuple[str, bytes]], body: bytes) -> float | None:
        """Post one batch; ``None`` when done with it, else the seconds to wait before resending."""
        try:
            reply = self._http.post("/v1/events", content=body)
        except httpx.TransportError as exc:  # refused, reset, timed out: resend the same body
            log.warning("tokentally: ingest unreachable (%s); will retry %d events", exc, len(batch))
            return 0.0
        if reply.status_code in _RETRY_STATUSES:
            log.warning("tokentally: ingest answered %d; will retry %d events", reply.status_code, len(batch))
            return _retry_after(reply)
        if reply.status_code in (202, 422):
            self._settle(batch, reply)
            return None
        self._lose(batch, "rejected", f"ingest answered {reply.status_code}: {reply.text[:300]}")
        return None

    def _settle(self, batch: list[tuple[str, bytes]], reply: httpx.Response) -> None:
        try:
            answer = reply.json()
            rejected = answer.get("rejected") or []
        except ValueError:
            rejected = []
            answer = {}
        ids = tuple(batch[item["index"]][0] for item in rejected if 0 <= item.get("index", -1) < len(batch))
        self._counts["delivered"] += len(batch) - len(ids)
        if ids:
            self._counts["rejected"] += len(ids)
            detail = "; ".join(f"{batch[item['index']][0]}: " + ", ".join(
                f"{error.get('field')}: {error.get('message')}" for error in item.get("errors", []))
                for item in rejected[:5])
            log.error("tokentally: ingest refused %d events: %s", len(ids), detail)
            self._report(Problem("rejected", ids, detail))
        elif reply.status_code == 422:
            self._lose(batch, "rejected", f"ingest answered 422: {answer.get('detail')}")

    def _lose(self, batch: list[tuple[str, bytes]], kind: Literal["rejected", "dropped"], detail: str) -> None:
        self._counts[kind] += len(batch)
        log.error("tokentally: %d events %s: %s", len(batch), kind, detail)
        self._report(Problem(kind, tuple(event_id for event_id, _ in batch), detail))

    def _drop_remaining(self) -> None:
        if self._queue:
            batch = [(item[0], b"") for item in self._queue]
            self._queue.clear()
            self._lose(batch, "dropped", "not delivered before close() timed out")

    def _report(self, problem: Problem) -> None:
        if self._on_problem is None:
            return
        try:
            self._on_problem(problem)
        except Exception:  # noqa: BLE001 - a faulty callback must not stop deliveries
            log.exception("tokentally: on_problem callback failed")


def encode(item: _Item) -> bytes:
    """One buffered call as the JSON event ingest reads."""
    event_id, client_id, provider, model, timestamp, usage, tokens, project, tags = item
    moment = timestamp if isinstance(timestamp, datetime) else datetime.fromtimestamp(timestamp, timezone.utc)
    event: dict[str, Any] = {"event_id": event_id, "client_id": client_id, "provider": provider, "model": model,
                             "timestamp": moment.isoformat()}
    if usage is not None:
        event["usage"] = usage_dict(usage)
    else:
        event.update(tokens)
    if project is not None:
        event["project"] = project
    if tags:
        event["tags"] = dict(tags)
    return _dumps(event).encode()  # type: ignore[no-any-return]


def _retry_after(reply: httpx.Response) -> float:
    value = reply.headers.get("retry-after", "")
    return float(value) if value.isdigit() else 0.0


def _close_at_exit(tally: TokenTally) -> None:
    """Flush at interpreter exit without keeping the instance alive."""
    ref = weakref.ref(tally)

    def close() -> None:
        instance = ref()
        if instance is not None:
            instance.close()

    atexit.register(close)

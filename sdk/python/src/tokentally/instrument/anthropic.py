"""Recording wrappers for ``anthropic.Anthropic`` / ``AsyncAnthropic``: ``messages.create``.

Streamed (``stream=True``): ``message_start`` carries the input side of the usage (input,
cache read and cache creation, with the 5-minute/1-hour split) and ``message_delta`` the
running output count (and, on newer API versions, final input counts); non-null delta
fields replace the start's.
"""

from __future__ import annotations

import functools
from typing import Any

from tokentally.instrument._recorder import Recorder
from tokentally.instrument._streams import AsyncWatchedStream, WatchedStream

__all__ = ["instrument_anthropic"]


def instrument_anthropic(client: Any, recorder: Recorder) -> Any:
    is_async = type(client).__name__.startswith("Async")
    messages = client.messages
    messages.create = _wrap(messages.create, recorder, is_async)
    return client


class _MessageStream:
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.usage: dict[str, Any] | None = None
        self.model: Any = None
        self.id: Any = None

    def observe(self, event: Any) -> None:
        kind = getattr(event, "type", None)
        if kind == "message_start":
            message = event.message
            self.model, self.id = message.model, message.id
            self.usage = _dump(message.usage)
        elif kind == "message_delta" and getattr(event, "usage", None) is not None:
            delta = {key: value for key, value in _dump(event.usage).items() if value is not None}
            self.usage = {**(self.usage or {}), **delta}

    def finish(self) -> None:
        self.recorder.record(self.model, self.usage, self.id)


def _dump(usage: Any) -> dict[str, Any]:
    return dict(usage.model_dump(mode="json")) if hasattr(usage, "model_dump") else dict(usage)


def _wrap(create: Any, recorder: Recorder, is_async: bool) -> Any:
    if getattr(create, "__tokentally__", False):
        return create

    def done(result: Any) -> None:
        recorder.record(getattr(result, "model", None), getattr(result, "usage", None), getattr(result, "id", None))

    if is_async:
        @functools.wraps(create)
        async def acreate(*args: Any, **kwargs: Any) -> Any:
            result = await create(*args, **kwargs)
            if kwargs.get("stream") is True:
                watch = _MessageStream(recorder)
                return AsyncWatchedStream(result, watch.observe, watch.finish)
            done(result)
            return result

        acreate.__tokentally__ = True  # type: ignore[attr-defined]
        return acreate

    @functools.wraps(create)
    def screate(*args: Any, **kwargs: Any) -> Any:
        result = create(*args, **kwargs)
        if kwargs.get("stream") is True:
            watch = _MessageStream(recorder)
            return WatchedStream(result, watch.observe, watch.finish)
        done(result)
        return result

    screate.__tokentally__ = True  # type: ignore[attr-defined]
    return screate

"""Recording wrappers for ``openai.OpenAI`` / ``AsyncOpenAI`` (and their Azure variants).

Wrapped: ``chat.completions.create`` and ``responses.create``, streaming or not. A streamed
Chat Completion reports usage only when asked, so ``stream_options={"include_usage": True}``
is added when the caller gave no ``stream_options`` (the stream then ends with one chunk
whose ``choices`` is empty and whose ``usage`` is set, as OpenAI documents). A streamed
Responses call reports usage in its ``response.completed`` event.
"""

from __future__ import annotations

import functools
from typing import Any

from tokentally.instrument._recorder import Recorder
from tokentally.instrument._streams import AsyncWatchedStream, WatchedStream

__all__ = ["instrument_openai"]


def instrument_openai(client: Any, recorder: Recorder) -> Any:
    is_async = type(client).__name__.startswith("Async")
    completions = client.chat.completions
    completions.create = _wrap(completions.create, recorder, is_async, _ChatStream, chat=True)
    responses = getattr(client, "responses", None)
    if responses is not None:
        responses.create = _wrap(responses.create, recorder, is_async, _ResponsesStream, chat=False)
    return client


class _ChatStream:
    """Usage, model and id from the chunks of a streamed Chat Completion."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder, self.usage, self.model, self.id = recorder, None, None, None

    def observe(self, chunk: Any) -> None:
        self.model = getattr(chunk, "model", None) or self.model
        self.id = getattr(chunk, "id", None) or self.id
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self.usage = usage

    def finish(self) -> None:
        self.recorder.record(self.model, self.usage, self.id)


class _ResponsesStream(_ChatStream):
    """The final ``response.completed`` (or ``response.incomplete``) event carries the whole response."""

    def observe(self, chunk: Any) -> None:
        response = getattr(chunk, "response", None)
        if response is not None and getattr(response, "usage", None) is not None:
            self.usage, self.model, self.id = response.usage, response.model, response.id


def _wrap(create: Any, recorder: Recorder, is_async: bool, watcher: type[_ChatStream], *, chat: bool) -> Any:
    if getattr(create, "__tokentally__", False):
        return create  # instrumented already

    def prepare(kwargs: dict[str, Any]) -> bool:
        streaming = kwargs.get("stream") is True
        if streaming and chat and kwargs.get("stream_options") is None:
            kwargs["stream_options"] = {"include_usage": True}
        return streaming

    def done(result: Any) -> None:
        recorder.record(getattr(result, "model", None) or "", getattr(result, "usage", None),
                        getattr(result, "id", None))

    if is_async:
        @functools.wraps(create)
        async def acreate(*args: Any, **kwargs: Any) -> Any:
            streaming = prepare(kwargs)
            result = await create(*args, **kwargs)
            if streaming:
                watch = watcher(recorder)
                return AsyncWatchedStream(result, watch.observe, watch.finish)
            done(result)
            return result

        acreate.__tokentally__ = True  # type: ignore[attr-defined]
        return acreate

    @functools.wraps(create)
    def screate(*args: Any, **kwargs: Any) -> Any:
        streaming = prepare(kwargs)
        result = create(*args, **kwargs)
        if streaming:
            watch = watcher(recorder)
            return WatchedStream(result, watch.observe, watch.finish)
        done(result)
        return result

    screate.__tokentally__ = True  # type: ignore[attr-defined]
    return screate

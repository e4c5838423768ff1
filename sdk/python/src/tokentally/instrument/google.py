"""Recording wrappers for ``google.genai.Client``: ``models.generate_content`` and
``generate_content_stream``, and the same on ``client.aio.models``.

A streamed response repeats ``usage_metadata`` on its chunks; the last one seen is the total.
The model is the response's ``model_version`` (what answered), else the ``model`` argument
(without a ``models/`` prefix).
"""

from __future__ import annotations

import functools
from typing import Any

from tokentally.instrument._recorder import Recorder
from tokentally.instrument._streams import AsyncWatchedStream, WatchedStream

__all__ = ["instrument_google"]


def instrument_google(client: Any, recorder: Recorder) -> Any:
    models = client.models
    models.generate_content = _wrap_call(models.generate_content, recorder, is_async=False)
    models.generate_content_stream = _wrap_stream(models.generate_content_stream, recorder, is_async=False)
    aio = getattr(client, "aio", None)
    if aio is not None:
        amodels = aio.models
        amodels.generate_content = _wrap_call(amodels.generate_content, recorder, is_async=True)
        amodels.generate_content_stream = _wrap_stream(amodels.generate_content_stream, recorder, is_async=True)
    return client


def _model(result: Any, kwargs: dict[str, Any], args: tuple[Any, ...]) -> str:
    model = getattr(result, "model_version", None) or kwargs.get("model") or (args[0] if args else "")
    return str(model).removeprefix("models/")


class _Chunks:
    def __init__(self, recorder: Recorder, model: str) -> None:
        self.recorder, self.model, self.usage, self.id = recorder, model, None, None

    def observe(self, chunk: Any) -> None:
        if getattr(chunk, "usage_metadata", None) is not None:
            self.usage = chunk.usage_metadata
        self.model = str(getattr(chunk, "model_version", None) or self.model).removeprefix("models/")
        self.id = getattr(chunk, "response_id", None) or self.id

    def finish(self) -> None:
        self.recorder.record(self.model, self.usage, self.id)


def _wrap_call(call: Any, recorder: Recorder, *, is_async: bool) -> Any:
    if getattr(call, "__tokentally__", False):
        return call

    def done(result: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        recorder.record(_model(result, kwargs, args), getattr(result, "usage_metadata", None),
                        getattr(result, "response_id", None))

    if is_async:
        @functools.wraps(call)
        async def acall(*args: Any, **kwargs: Any) -> Any:
            result = await call(*args, **kwargs)
            done(result, args, kwargs)
            return result

        acall.__tokentally__ = True  # type: ignore[attr-defined]
        return acall

    @functools.wraps(call)
    def scall(*args: Any, **kwargs: Any) -> Any:
        result = call(*args, **kwargs)
        done(result, args, kwargs)
        return result

    scall.__tokentally__ = True  # type: ignore[attr-defined]
    return scall


def _wrap_stream(call: Any, recorder: Recorder, *, is_async: bool) -> Any:
    if getattr(call, "__tokentally__", False):
        return call
    if is_async:
        @functools.wraps(call)
        async def astream(*args: Any, **kwargs: Any) -> Any:
            chunks = _Chunks(recorder, _model(None, kwargs, args))
            return AsyncWatchedStream(await call(*args, **kwargs), chunks.observe, chunks.finish)

        astream.__tokentally__ = True  # type: ignore[attr-defined]
        return astream

    @functools.wraps(call)
    def sstream(*args: Any, **kwargs: Any) -> Any:
        chunks = _Chunks(recorder, _model(None, kwargs, args))
        return WatchedStream(call(*args, **kwargs), chunks.observe, chunks.finish)

    sstream.__tokentally__ = True  # type: ignore[attr-defined]
    return sstream

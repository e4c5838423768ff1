"""Proxies around a vendor's streaming response that watch each chunk and act once at the end.

The caller iterates exactly the chunks the vendor SDK yields; everything else (``close()``,
``response``, context-manager use) is passed through to the wrapped stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

__all__ = ["AsyncWatchedStream", "WatchedStream"]


class _Watch:
    def __init__(self, stream: Any, observe: Callable[[Any], None], finish: Callable[[], None]) -> None:
        self._stream = stream
        self._observe = observe
        self._finish = finish
        self._finished = False

    def _done(self) -> None:
        if not self._finished:
            self._finished = True
            self._finish()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class WatchedStream(_Watch):
    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        try:
            chunk = next(self._iterator())
        except StopIteration:
            self._done()
            raise
        self._observe(chunk)
        return chunk

    def _iterator(self) -> Iterator[Any]:
        if not hasattr(self, "_it"):
            self._it = iter(self._stream)
        return self._it

    def close(self) -> None:
        self._done()
        close = getattr(self._stream, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> WatchedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncWatchedStream(_Watch):
    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        if not hasattr(self, "_it"):
            self._it = self._stream.__aiter__()
        try:
            chunk = await self._it.__anext__()
        except StopAsyncIteration:
            self._done()
            raise
        self._observe(chunk)
        return chunk

    async def close(self) -> None:
        self._done()
        close = getattr(self._stream, "close", None) or getattr(self._stream, "aclose", None)
        if callable(close):
            result = close()
            if hasattr(result, "__await__"):
                await result

    async def __aenter__(self) -> AsyncWatchedStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

"""A ``TokenTally`` whose ingest is an in-process fake that keeps every event it was sent."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tokentally import TokenTally


@dataclass
class FakeIngest:
    """Answers like ``POST /v1/events``; ``answers`` scripts the next statuses (then 202)."""

    events: list[dict[str, Any]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    answers: list[int | Exception] = field(default_factory=list)
    reject: Callable[[dict[str, Any]], str | None] = lambda _: None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(request.content)
        if self.answers:
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            if answer != 202:
                return httpx.Response(answer, json={"error": "x", "detail": "scripted"}, headers={"retry-after": "0"})
        batch = json.loads(request.content)
        rejected = [{"index": i, "errors": [{"field": "model", "message": problem}]}
                    for i, event in enumerate(batch) if (problem := self.reject(event))]
        bad = {r["index"] for r in rejected}
        self.events.extend(event for i, event in enumerate(batch) if i not in bad)
        status = 422 if batch and len(bad) == len(batch) else 202
        return httpx.Response(status, json={"accepted": len(batch) - len(bad), "rejected": rejected})


@pytest.fixture
def ingest() -> FakeIngest:
    return FakeIngest()


@pytest.fixture
def tally(ingest: FakeIngest) -> Iterator[TokenTally]:
    with TokenTally("http://ingest", "key", transport=httpx.MockTransport(ingest), flush_interval=0.05,
                    max_backoff=0.05) as client:
        yield client

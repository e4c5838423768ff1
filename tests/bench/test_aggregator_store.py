"""The aggregator's store-path benchmark runs, and gives the same insert body every time."""

from __future__ import annotations

import pytest

from bench.aggregator_store import NOW, main, records_of, store_path
from bench.priced_codec import encode, priced_events
from libs.common.priced_wire import encode_priced


def test_the_same_messages_give_the_same_insert_body() -> None:
    records = records_of(encode(priced_events(1_000, now=NOW), encode_priced))
    (body,) = store_path(records)
    assert body.startswith(b"[") and body.endswith(b"]")
    assert store_path(records) == [body]


def test_it_prints_figures_per_event(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--events", "500", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert out.count("µs/event") == 2 and "sha256" in out

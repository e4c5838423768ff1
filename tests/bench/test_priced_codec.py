"""The priced-codec benchmark runs and its two formats give the same ClickHouse rows."""

from __future__ import annotations

import pytest

from bench.priced_codec import encode, main, priced_events, read_compact, read_earlier
from libs.common.priced_wire import encode_priced


def test_both_formats_read_to_the_same_rows_and_the_compact_one_is_smaller() -> None:
    events = priced_events(2_000)
    earlier, compact = encode(events, None), encode(events, encode_priced)
    assert read_earlier(earlier) == read_compact(compact)
    assert sum(map(len, compact)) < sum(map(len, earlier)) / 3


def test_it_prints_figures_per_event(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--events", "500", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "aggregator: read, check, rows" in out and out.count("µs") == 4

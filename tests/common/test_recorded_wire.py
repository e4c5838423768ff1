"""msgspec's read of ``usage.recorded.v1`` gives pydantic's values, or leaves the message to pydantic.

``libs.common.recorded_wire`` must accept exactly what ``decode_batch(UsageRecorded, ...)`` accepts,
with the same values (ingest's real output read on the fast path, every time), and refuse
exactly what it refuses, with pydantic's own errors (the dead letter's reason).
"""

from __future__ import annotations

import itertools
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from libs.common import recorded_wire
from libs.common.events import UsageRecorded
from libs.common.kafka import decode_batch
from libs.common.recorded_wire import decode_calls, decode_recorded
from services.ingest.records import pack_rows, record_rows
from services.ingest.validation import validate_inputs
from tests.ingest.test_records import RECEIVED_AT, VARIED

BASE = ('"event_id":"e","client_id":"c","provider":"p","model":"m","timestamp":"2026-01-01T00:00:00Z",'
        '"received_at":"2026-01-01T00:00:00.5+01:00"')


def _same(body: bytes) -> None:
    """Both reads accept with the same values, or both refuse with pydantic's errors."""
    try:
        expected: Any = decode_batch(UsageRecorded, body)
    except ValidationError as exc:
        with pytest.raises(ValidationError) as refused:
            decode_recorded(body)
        assert repr(refused.value.errors()) == repr(exc.errors())  # repr: NaN is not equal to itself
        return
    found = decode_recorded(body)
    assert [e.model_dump_json() for e in found] == [e.model_dump_json() for e in expected]
    assert [e.model_dump() for e in found] == [e.model_dump() for e in expected]


def test_ingests_own_messages_are_read_by_msgspec_to_pydantics_values(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.workload import Workload

    items = [*VARIED, *Workload(50, seed=3).events(2_000)]
    accepted, rejected = validate_inputs(items)
    assert not rejected
    bodies = [body for body, _ in pack_rows(record_rows(accepted, RECEIVED_AT), 10**7, max_events=100).messages]
    expected = [decode_batch(UsageRecorded, body) for body in bodies]

    def no_fallback(*_: object) -> None:
        raise AssertionError("ingest's message was left to pydantic")

    monkeypatch.setattr(recorded_wire, "decode_batch", no_fallback)
    for body, events in zip(bodies, expected, strict=True):
        found = decode_recorded(body)
        assert [e.model_dump_json() for e in found] == [e.model_dump_json() for e in events]
        assert [e.model_dump() for e in found] == [e.model_dump() for e in events]
        assert [type(v) for e in found for v in e.__dict__.values()] == [
            type(v) for e in events for v in e.__dict__.values()]


@pytest.mark.parametrize("body", [
    f'[{{{BASE},"input_tokens":1,"input_tokens":2}}]',
    f'[{{{BASE},"input_tokens":1.0}}]',  # pydantic reads 1.0 as 1: msgspec leaves it to pydantic
    f'[{{{BASE},"input_tokens":-0,"output_tokens":1000000000000}}]',
    f'[{{{BASE},"input_tokens":1000000000001}}]',
    f'[{{{BASE},"input_tokens":-1}}]',
    f'[{{{BASE},"input_tokens":1e2}}]',
    f'[{{{BASE},"input_tokens":true}}]',
    f'[{{{BASE},"input_tokens":"5"}}]',
    f'[{{{BASE},"input_tokens":null}}]',
    f'[{{{BASE},"input_tokens":NaN}}]',
    f'[{{{BASE},"input_tokens":99999999999999999999999}}]',
    f'[{{{BASE},"project":"\\ud800"}}]',
    f'[{{{BASE},"project":"\\u0000 a\\u00e9\\ud83d\\ude00"}}]',
    f'[{{{BASE},"project":null,"tags":{{}}}}]',
    f'[{{{BASE},"project":"{"p" * 129}"}}]',
    f'[{{{BASE},"tags":{{"a":"1","a":"2"}}}}]',
    f'[{{{BASE},"tags":{{' + ",".join(f'"k{i % 32}":""' for i in range(40)) + "}}]",
    f'[{{{BASE},"tags":{{' + ",".join(f'"k{i}":""' for i in range(33)) + "}}]",
    f'[{{{BASE},"tags":{{"":"x"}}}}]',
    f'[{{{BASE},"tags":null}}]',
    f'[{{{BASE},"extra":1}}]',
    f'[{{{BASE},"event_id":""}}]',
    f'[{{{BASE},"event_id":"{"😀" * 128}"}}]',
    f'[{{{BASE},"event_id":"{"😀" * 129}"}}]',
    f'[{{{BASE},"client_id":"c\\n"}}]',
    f'[{{{BASE},"client_id":"-c"}}]',
    f'[{{{BASE},"client_id":"{"c" * 65}"}}]',
    f'[{{{BASE},"model":" m"}}]',  # pydantic trims names
    f'[{{{BASE},"provider":"p\\u3000"}}]',
    f'[{{{BASE},"model":"\\u001fm"}}]',
    f'[{{{BASE},"model":"\\u200bm"}}]',
    f'[{{{BASE},"model":"   "}}]',
    f'[{{{BASE},"timestamp":"2026-01-01T00:00:00.1234567Z"}}]',  # pydantic truncates, msgspec rounds
    f'[{{{BASE},"timestamp":"2026-01-01T00:00:00.9999999Z"}}]',
    f'[{{{BASE},"timestamp":"2026-01-01T00:00:00"}}]',
    f'[{{{BASE},"timestamp":1700000000}}]',
    '[{"event_id":"e"}]', f" [{{{BASE}}}] ", f"\ufeff[{{{BASE}}}]", f"[{{{BASE}}}] x", f"[{{{BASE}}},]",
    '{"a":1}', "[]", "", "null", "[null]", "[[]]",
])
def test_an_unusual_message_reads_as_pydantic_reads_it(body: str) -> None:
    _same(body.encode())


def test_times_read_as_pydantic_reads_them() -> None:
    dates = ["2026-12-02", "0001-01-01", "9999-12-31", "2026-02-29", "2024-02-29", "20261202"]
    separators = ["T", "t", " ", "_"]
    times = ["18:33:43", "18:33", "18:33:60", "24:00:00", "18:33:43.", "18:33:43.1", "18:33:43.123456",
             "18:33:43.1234567", "18:33:43.9999995", "18:33:43,5"]
    zones = ["Z", "z", "+00:00", "-00:00", "+01:00", "+0100", "+01", "+23:59", "+24:00", "-12:30", "", " Z"]
    for date, separator, time, zone in itertools.product(dates, separators, times, zones):
        _same(f'[{{{BASE},"timestamp":{orjson.dumps(date + separator + time + zone).decode()}}}]'.encode())


def test_a_message_left_to_pydantic_still_reads_into_calls() -> None:
    (call,) = decode_calls(f'[{{{BASE},"model":" m ","input_tokens":2.0}}]'.encode())
    assert (call.model, call.input_tokens) == ("m", 2)

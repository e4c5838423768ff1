"""Reading ``usage.recorded.v1`` bodies without pydantic, for the values pydantic would give.

Pricing reads every raw message; pydantic's ``validate_json`` of ``list[UsageRecorded]``
was its largest cost (measured ~5 µs an event on ingest's messages). ``msgspec`` reads the
same JSON into a ``Struct`` with the same fields and the same limits, checked in C, in a
fifth of that. Only what msgspec reads exactly as pydantic does is taken from it:

- the field types, bounds and lengths, unknown fields refused, times with an offset
  (``UsageRecorded``'s ``Annotated`` limits, restated here; ``tests/common/test_recorded_wire.py``
  holds the two to the same answers);
- the client id pattern and provider/model names that trimming would leave as they are,
  checked after the read (pydantic trims names: a padded name is pydantic's to read);
- no time with more than six decimals of a second (pydantic truncates them, msgspec rounds):
  a body with seven digits after a dot anywhere is pydantic's to read.

Anything msgspec refuses, or that fails one of the checks after it, is read by pydantic
exactly as before: what is accepted and what is refused (and the refusal's wording in the
dead letter) do not change; pydantic is only spared the messages it would accept anyway.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Final

import msgspec

from libs.common.events import MAX_TAGS, UsageRecorded
from libs.common.ids import CLIENT_ID_RULE
from libs.common.kafka import decode_batch

__all__ = ["RecordedCall", "as_recorded", "decode_calls", "decode_recorded"]

_TOKEN_LIMIT: Final = 10**12

Tokens = Annotated[int, msgspec.Meta(ge=0, le=_TOKEN_LIMIT)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Aware = Annotated[datetime, msgspec.Meta(tz=True)]
TagKey = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
TagValue = Annotated[str, msgspec.Meta(max_length=256)]


class RecordedCall(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, gc=False):
    """``UsageRecorded``'s fields in its order, with its limits."""

    input_tokens: Tokens = 0
    output_tokens: Tokens = 0
    cache_read_tokens: Tokens = 0
    cache_write_tokens: Tokens = 0
    reasoning_tokens: Tokens = 0
    cache_write_1h_tokens: Tokens = 0
    input_audio_tokens: Tokens = 0
    output_audio_tokens: Tokens = 0
    cache_audio_read_tokens: Tokens = 0
    input_image_tokens: Tokens = 0
    cache_image_read_tokens: Tokens = 0
    output_image_tokens: Tokens = 0
    event_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    client_id: str
    """Checked against the client id rule after the read (``_plain``)."""
    provider: Name
    model: Name
    timestamp: Aware
    received_at: Aware
    project: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    tags: Annotated[dict[TagKey, TagValue], msgspec.Meta(max_length=MAX_TAGS)] = {}


_decoder = msgspec.json.Decoder(list[RecordedCall])
_client_id = re.compile(CLIENT_ID_RULE).fullmatch
_long_fraction = re.compile(rb"\.[0-9]{7}").search
_asdict = msgspec.structs.asdict
_new = UsageRecorded.__new__
_set = object.__setattr__
_FIELDS_SET: Final = set(UsageRecorded.model_fields)


def decode_calls(body: bytes) -> list[RecordedCall]:
    """The events of one message, with the values ``decode_batch(UsageRecorded, body)`` reads.

    Raises pydantic's ``ValidationError`` for a message that does not read, as that does.
    """
    if not _long_fraction(body):
        try:
            calls = _decoder.decode(body)
        except msgspec.MsgspecError:
            calls = None
        if calls is not None and _plain(calls):
            return calls
    return [RecordedCall(**event.__dict__) for event in decode_batch(UsageRecorded, body)]


def decode_recorded(body: bytes) -> list[UsageRecorded]:
    """``decode_batch(UsageRecorded, body)``, read as ``decode_calls`` reads it."""
    return [as_recorded(call) for call in decode_calls(body)]


def _plain(calls: list[RecordedCall]) -> bool:
    """Whether pydantic would keep every value as read: valid client ids, names it would not trim."""
    clients: set[str] = set()
    for call in calls:
        provider, model = call.provider, call.model
        if provider.strip() != provider or model.strip() != model:
            return False
        clients.add(call.client_id)
    return all(_client_id(client) for client in clients)


def as_recorded(call: RecordedCall) -> UsageRecorded:
    """The ``UsageRecorded`` of a call's values (already checked), built without validating them again."""
    event = _new(UsageRecorded)
    _set(event, "__dict__", _asdict(call))
    _set(event, "__pydantic_fields_set__", _FIELDS_SET)  # frozen: never added to, so one set serves all
    _set(event, "__pydantic_extra__", None)
    _set(event, "__pydantic_private__", None)
    return event

"""ClickHouse access for the dead letters (``dead_letters``): record, list, read, resolve.

Rows are written by the recorder (one per message of the dead-letter topic, version 1)
and by the admin's decisions (a newer version with another status); reads use ``FINAL``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from aiokafka.structs import ConsumerRecord
from clickhouse_connect.driver.asyncclient import AsyncClient
from pydantic import BaseModel

Status = Literal["pending", "redriven", "discarded"]

COLUMNS = (
    "letter_id", "client_id", "event_id", "stage", "error_class", "reason", "source", "dead_lettered_at",
    "payload", "status", "resolution", "resolved_at", "version",
)
RECORDED_VERSION = 1
"""Recording a message again (the recorder's batch redelivered) never hides an admin's decision,
which is written with a version from the clock."""


class DeadLetterRecord(BaseModel):
    """A dead-lettered event (or unreadable message) as the admin API shows it."""

    letter_id: str
    """``<partition>-<offset>`` of the message on the dead-letter topic."""
    client_id: str
    event_id: str
    stage: str
    """The consumer that gave up: ``pricing``, ``aggregator`` or ``alerts``."""
    error_class: str
    reason: str
    source: str
    """``topic/partition/offset`` of the message the event came in."""
    dead_lettered_at: datetime
    payload: Any
    """The event as JSON when it could be read, else the message's text."""
    status: Status
    resolution: str
    resolved_at: datetime | None


def letter_id_of(record: ConsumerRecord) -> str:
    return f"{record.partition}-{record.offset}"


def row_of(record: ConsumerRecord) -> list[Any]:
    """The ``dead_letters`` row of one message of the dead-letter topic."""
    headers = {name: value.decode(errors="replace") for name, value in (record.headers or ())}
    text = (record.value or b"").decode(errors="replace")
    event_id = ""
    try:
        parsed = json.loads(text)
        if isinstance(parsed, dict):
            event_id = str(parsed.get("event_id", ""))[:128]
    except ValueError:
        pass
    try:
        at = datetime.fromisoformat(headers["x-dead-lettered-at"])
    except (KeyError, ValueError):
        at = datetime.fromtimestamp(record.timestamp / 1000, UTC)
    return [letter_id_of(record), (record.key or b"").decode(errors="replace"), event_id, headers.get("x-stage", ""),
            headers.get("x-error-class", ""), headers.get("x-reason", ""), headers.get("x-source", ""), at, text,
            "pending", "", None, RECORDED_VERSION]


@dataclass(frozen=True, slots=True)
class DeadLetterFilter:
    status: Status = "pending"
    client_id: str | None = None
    error_class: str | None = None
    limit: int = 1000


def list_query(wanted: DeadLetterFilter) -> tuple[str, dict[str, Any]]:
    where = ["status = {status:String}"]
    if wanted.client_id:
        where.append("client_id = {client_id:String}")
    if wanted.error_class:
        where.append("error_class = {error_class:String}")
    sql = (f"SELECT {', '.join(COLUMNS)} FROM dead_letters FINAL WHERE {' AND '.join(where)} "
           "ORDER BY dead_lettered_at, letter_id LIMIT {limit:UInt32}")
    return sql, {"status": wanted.status, "client_id": wanted.client_id or "",
                 "error_class": wanted.error_class or "", "limit": wanted.limit}


def _record(row: tuple[Any, ...]) -> DeadLetterRecord:
    fields = dict(zip(COLUMNS, row, strict=True))
    fields.pop("version")
    try:
        fields["payload"] = json.loads(fields["payload"])
    except ValueError:
        pass
    return DeadLetterRecord(**fields)


class DeadLetterStore:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def record(self, records: list[ConsumerRecord]) -> None:
        if records:
            await self._client.insert("dead_letters", [row_of(r) for r in records], column_names=COLUMNS)

    async def list(self, wanted: DeadLetterFilter) -> list[DeadLetterRecord]:
        sql, parameters = list_query(wanted)
        result = await self._client.query(sql, parameters=parameters)
        return [_record(row) for row in result.result_rows]

    async def get(self, letter_id: str) -> DeadLetterRecord | None:
        result = await self._client.query(
            f"SELECT {', '.join(COLUMNS)} FROM dead_letters FINAL WHERE letter_id = {{id:String}}",
            parameters={"id": letter_id})
        return _record(result.result_rows[0]) if result.result_rows else None

    async def resolve(self, letter: DeadLetterRecord, status: Status, resolution: str, at: datetime) -> None:
        """A newer version of the letter with its new status (what the admin did, and when)."""
        payload = letter.payload if isinstance(letter.payload, str) else json.dumps(letter.payload)
        row = [letter.letter_id, letter.client_id, letter.event_id, letter.stage, letter.error_class, letter.reason,
               letter.source, letter.dead_lettered_at, payload, status, resolution, at,
               max(RECORDED_VERSION + 1, int(at.timestamp() * 1_000_000))]
        await self._client.insert("dead_letters", [row], column_names=COLUMNS)

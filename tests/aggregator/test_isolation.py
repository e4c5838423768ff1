"""Events ClickHouse cannot store are set aside with their reason; the rest of the batch is stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from libs.common.clickhouse import connect
from libs.common.failures import write_isolating
from libs.common.settings import ClickHouseSettings
from services.aggregator.rows import PricedRecord, priced_row
from services.aggregator.entries import entry_of
from services.aggregator.service import Aggregator, by_partition_groups, part_token, priced_groups
from services.aggregator.store import PricedEventStore
from tests.aggregator.test_service import priced

pytestmark = pytest.mark.integration


def record(event_id: str, at: datetime, **cost: str) -> PricedRecord:
    event = priced(event_id, client_id="iso", input_tokens=1_000)
    data = {**event.model_dump(mode="json"), "timestamp": at.isoformat(), "received_at": at.isoformat(),
            "priced_at": at.isoformat()}
    data["cost"] = {**data["cost"], **cost}
    return PricedRecord.model_validate(data)


def months(count: int) -> list[datetime]:
    return [datetime(2010 + i // 12, i % 12 + 1, 15, tzinfo=UTC) for i in range(count)]


async def _stored(client: object, client_id: str = "iso") -> int:
    return int(await client.command("SELECT count() FROM priced_events WHERE client_id = {c:String}",  # type: ignore[attr-defined]
                                    parameters={"c": client_id}))


def test_inserts_are_split_to_at_most_the_partition_limit() -> None:
    at = months(130)
    groups = by_partition_groups(at, lambda t: (t.year, t.month), max_partitions=50)
    assert [len(g) for g in groups] == [50, 50, 30]
    assert by_partition_groups(at[:3], lambda t: (t.year, t.month)) == [at[:3]]


@pytest.mark.parametrize("count", [0, 1, 49, 50, 51, 130])
def test_priced_groups_are_the_partition_groups_of_their_entries(count: int) -> None:
    """The quick path (earliest and latest at most the limit apart: one insert) splits as the slow one does."""
    entries = [entry_of(record(f"m{i}", at)) for i, at in enumerate(months(count))]
    entries += [entry_of(record("again", datetime(2010, 1, 1, tzinfo=UTC)))] if entries else []
    groups = priced_groups(entries)
    assert groups == by_partition_groups(entries, lambda e: (e.timestamp.year, e.timestamp.month))
    assert len(groups) == (count + 49) // 50


async def test_bisection_on_real_clickhouse_isolates_a_value_it_refuses(clickhouse_schema: ClickHouseSettings) -> None:
    """120 months in one insert (ClickHouse refuses >100) plus one amount too big for Decimal(38, 18):
    bisecting finds the one event ClickHouse refuses alone; the other 120 are stored."""
    client = await connect(clickhouse_schema)
    store = PricedEventStore(client)
    good = [record(f"m{i}", at) for i, at in enumerate(months(120))]
    bad = record("overflow", datetime(2026, 10, 1, tzinfo=UTC), total_usd="1" + "0" * 25)
    try:
        refused = await write_isolating([*good[:60], bad, *good[60:]],
                                        lambda events: store.insert_priced([priced_row(e) for e in events],
                                                                                   part_token("t", events)))
        stored = await _stored(client)
    finally:
        await client.close()

    assert [r.item.event_id for r in refused] == ["overflow"]
    assert refused[0].error_class == "clickhouse:ARGUMENT_OUT_OF_BOUND"
    assert "Decimal value is too big" in refused[0].reason
    assert stored == 120


async def test_out_of_range_events_are_refused_before_writing_and_the_rest_recorded(
        clickhouse_schema: ClickHouseSettings) -> None:
    client = await connect(clickhouse_schema)
    aggregator = Aggregator(PricedEventStore(client))
    now = datetime(2026, 10, 3, tzinfo=UTC)
    batch = [record("ok", now), record("year-1", datetime(1, 1, 1, tzinfo=UTC)),
             record("year-2200", datetime(2200, 1, 1, tzinfo=UTC)),
             record("huge", now, input_usd="1E+25"), record("spans", now + timedelta(days=40))]
    try:
        outcome = await aggregator.record_priced(batch, token="t-isolation")
        stored = await _stored(client)
    finally:
        await client.close()

    assert sorted(r.item.event_id for r in outcome.refused) == ["huge", "year-1", "year-2200"]
    assert {r.error_class for r in outcome.refused} == {"out_of_range"}
    assert outcome.inserted == 2 and stored == 2
    assert outcome.periods == {("iso", "2026-10"), ("iso", "2026-11")}

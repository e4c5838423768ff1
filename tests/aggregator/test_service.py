"""The aggregator's dedup-then-insert against a real ClickHouse."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from libs.common.clickhouse import connect
from libs.common.events import AppliedPrice, UsagePriced, UsageUnpriced
from libs.common.settings import ClickHouseSettings
from services.aggregator.rows import priced_row
from services.aggregator.service import Aggregator
from services.aggregator.store import PricedEventStore
from services.pricing.calculation import price_usage

pytestmark = pytest.mark.integration

PRICE = AppliedPrice(
    source="override", price_id="ov-1", effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    input_per_mtok=Decimal("2.5"), output_per_mtok=Decimal("10"), cache_read_per_mtok=Decimal("1.25"),
    cache_write_per_mtok=Decimal("2.5"), reasoning_per_mtok=Decimal("10"),
)


def priced(event_id: str, client_id: str = "acme", day: int = 3, **tokens: int) -> UsagePriced:
    at = datetime(2026, 10, day, 12, tzinfo=UTC)
    fields = dict(event_id=event_id, client_id=client_id, provider="openai", model="gpt-4o", timestamp=at,
                  received_at=at, **tokens)
    usage = UsagePriced.model_construct(**fields)
    return UsagePriced(**fields, price=PRICE, cost=price_usage(usage, PRICE), priced_at=at)


async def _totals(settings: ClickHouseSettings, client_id: str) -> tuple[int, Decimal]:
    client = await connect(settings)
    try:
        result = await client.query(
            "SELECT sum(events), sum(cost_usd) FROM usage_totals_monthly WHERE client_id = {c:String}",
            parameters={"c": client_id})
        events, cost = result.result_rows[0]
        return int(events), Decimal(cost)
    finally:
        await client.close()


async def test_replayed_batches_and_in_batch_duplicates_count_once(clickhouse_schema: ClickHouseSettings) -> None:
    client = await connect(clickhouse_schema)
    aggregator = Aggregator(PricedEventStore(client))
    batch = [priced("a", input_tokens=1_000_000), priced("b", output_tokens=100_000), priced("a", input_tokens=1)]
    try:
        first = await aggregator.record_priced(batch, token="t1")
        replay = await aggregator.record_priced(batch, token="t1")  # Kafka redelivery after a crash before the commit
        partly_new = await aggregator.record_priced([priced("b"), priced("c", cache_read_tokens=2_000_000)],
                                                    token="t2")
    finally:
        await client.close()

    assert (first.inserted, first.duplicates) == (2, 1)
    assert (replay.inserted, replay.duplicates) == (0, 3)
    assert (partly_new.inserted, partly_new.duplicates) == (1, 1)
    assert first.periods == {("acme", "2026-10")}
    assert await _totals(clickhouse_schema, "acme") == (3, Decimal("2.5") + Decimal("1") + Decimal("2.5"))


async def test_same_event_id_for_two_clients_is_two_events(clickhouse_schema: ClickHouseSettings) -> None:
    client = await connect(clickhouse_schema)
    try:
        outcome = await Aggregator(PricedEventStore(client)).record_priced(
            [priced("same", "acme", input_tokens=10), priced("same", "globex", input_tokens=10)], token="t")
    finally:
        await client.close()
    assert outcome.inserted == 2


async def test_quarantined_replay_never_outranks_a_repriced_row(clickhouse_schema: ClickHouseSettings) -> None:
    at = datetime(2026, 10, 3, tzinfo=UTC)
    unpriced = UsageUnpriced(event_id="u1", client_id="acme", provider="x", model="y", timestamp=at,
                             received_at=at, reason="no price", detected_at=at)
    client = await connect(clickhouse_schema)
    try:
        aggregator = Aggregator(PricedEventStore(client))
        await aggregator.record_unpriced([unpriced])
        await client.command(
            "INSERT INTO unpriced_events SELECT client_id, event_id, provider, model, timestamp, reason, "
            "detected_at, payload, 'repriced', version + 1 FROM unpriced_events")
        await aggregator.record_unpriced([unpriced])  # redelivered after a crash
        result = await client.query("SELECT status FROM unpriced_events FINAL")
    finally:
        await client.close()
    assert result.result_rows == [("repriced",)]


async def test_reconcile_finds_and_repairs_totals_that_disagree(clickhouse_schema: ClickHouseSettings) -> None:
    from services.aggregator.reconcile import check, rebuild

    client = await connect(clickhouse_schema)
    try:
        await Aggregator(PricedEventStore(client)).record_priced(
            [priced("r1", "acme", input_tokens=1_000_000), priced("r2", "acme", day=4, output_tokens=1_000_000)],
            token="t1")
        assert await check(client, "2026-10") == []
        # a duplicate that slipped past dedup (a resend after the idempotency window)
        await PricedEventStore(client).insert_priced([priced_row(priced("r1", "acme", input_tokens=1_000_000))], "t2")
        mismatches = await check(client, "2026-10")
        assert {(m.table, m.events) for m in mismatches} == {
            ("usage_totals_monthly", (2, 3)), ("usage_totals_daily", (2, 3))}
        await rebuild(client, "2026-10")
        assert await check(client, "2026-10") == []
        await rebuild(client, "2026-10")  # the same blocks again: not dropped as duplicates of the first
        assert await check(client, "2026-10") == []
        result = await client.query("SELECT sum(cost_usd) FROM usage_totals_monthly")
        assert result.result_rows[0][0] == Decimal("12.5")
    finally:
        await client.close()


async def test_a_batch_of_twenty_thousand_events_is_deduplicated(clickhouse_schema: ClickHouseSettings) -> None:
    """Far past the 128 KiB a ClickHouse HTTP form field may hold, had the keys been query parameters."""
    batch = [priced(f"bulk-{i:05d}-" + "x" * 40, f"client-{i % 50}", input_tokens=1_000) for i in range(20_000)]
    client = await connect(clickhouse_schema)
    try:
        aggregator = Aggregator(PricedEventStore(client))
        first = await aggregator.record_priced(batch[:15_000], token="t1")
        second = await aggregator.record_priced(batch, token="t2")
    finally:
        await client.close()
    assert (first.inserted, second.inserted, second.duplicates) == (15_000, 5_000, 15_000)


async def test_an_insert_repeated_under_its_token_counts_once_even_while_the_first_runs(
        clickhouse_schema: ClickHouseSettings) -> None:
    """A redelivered batch whose first insert had not committed when the redelivery asked for
    the keys (its response was lost, or the partition had two owners for a moment): both
    attempts see no stored key and both insert; the token makes ClickHouse keep one."""
    batch = [priced(f"race-{i}", f"client-{i % 3}", input_tokens=1_000_000) for i in range(300)]
    client, other = await connect(clickhouse_schema), await connect(clickhouse_schema)
    try:
        outcomes = await asyncio.gather(*(
            Aggregator(PricedEventStore(c)).record_priced(batch, token="p0:100-140") for c in (client, other)))
        rows = await client.command("SELECT count() FROM priced_events")
        keys = await client.command("SELECT count() FROM event_keys")
    finally:
        await client.close()
        await other.close()
    assert [o.inserted for o in outcomes] == [300, 300]  # neither attempt saw the other's keys
    assert (rows, keys) == (300, 300)
    assert await _totals(clickhouse_schema, "client-0") == (100, Decimal("250"))


async def _age_keys(client: object, days: int) -> None:
    """Make every stored key look as if it had been stored ``days`` days ago."""
    await client.command(f"INSERT INTO event_keys SELECT key, today() - {days} FROM event_keys")  # type: ignore[attr-defined]
    await client.command("ALTER TABLE event_keys DROP PARTITION tuple(today())")  # type: ignore[attr-defined]


async def test_a_resend_inside_the_window_counts_once(clickhouse_schema: ClickHouseSettings) -> None:
    from libs.common.schema import IDEMPOTENCY_WINDOW_DAYS

    client = await connect(clickhouse_schema)
    try:
        aggregator = Aggregator(PricedEventStore(client))
        await aggregator.record_priced([priced("w1", input_tokens=1_000_000)], token=uuid.uuid4().hex)
        await _age_keys(client, IDEMPOTENCY_WINDOW_DAYS)  # the last day of the window
        resent = await aggregator.record_priced([priced("w1", input_tokens=1_000_000)], token=uuid.uuid4().hex)
    finally:
        await client.close()
    assert (resent.inserted, resent.duplicates) == (0, 1)
    assert await _totals(clickhouse_schema, "acme") == (1, Decimal("2.5"))


async def test_a_resend_after_the_window_is_stored_again_and_reconcile_finds_it(
        clickhouse_schema: ClickHouseSettings) -> None:
    from libs.common.schema import IDEMPOTENCY_WINDOW_DAYS
    from services.aggregator.reconcile import check, rebuild

    client = await connect(clickhouse_schema)
    try:
        aggregator = Aggregator(PricedEventStore(client))
        await aggregator.record_priced([priced("late", input_tokens=1_000_000)], token=uuid.uuid4().hex)
        await _age_keys(client, IDEMPOTENCY_WINDOW_DAYS + 1)
        resent = await aggregator.record_priced([priced("late", input_tokens=1_000_000)], token=uuid.uuid4().hex)
        assert resent.inserted == 1
        assert {(m.table, m.events) for m in await check(client, "2026-10")} == {
            ("usage_totals_monthly", (1, 2)), ("usage_totals_daily", (1, 2))}
        await rebuild(client, "2026-10")
        assert await check(client, "2026-10") == []
    finally:
        await client.close()
    assert await _totals(clickhouse_schema, "acme") == (1, Decimal("2.5"))


async def test_events_stored_before_the_upgrade_stay_protected(clickhouse_schema: ClickHouseSettings) -> None:
    """A database from before ``event_keys``: its recent events' keys are backfilled at start-up."""
    from libs.common.clickhouse import ensure_schema

    client = await connect(clickhouse_schema)
    try:
        await client.command("DROP VIEW event_keys_mv")
        await client.command("DROP TABLE event_keys")
        await PricedEventStore(client).insert_priced([priced_row(priced("old", input_tokens=1_000_000))], "t0")
        await ensure_schema(clickhouse_schema)
        resent = await Aggregator(PricedEventStore(client)).record_priced(
            [priced("old", input_tokens=1_000_000), priced("new", input_tokens=1_000_000)], token="t1")
    finally:
        await client.close()
    assert (resent.inserted, resent.duplicates) == (1, 1)
    assert await _totals(clickhouse_schema, "acme") == (2, Decimal("5"))

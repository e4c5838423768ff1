"""A database from before the unit buckets (1-hour cache writes, audio, cached audio, images), upgraded in place.

The tables as they were are ``tests/support/schema_before_unit_buckets.sql`` (none of them) and
``schema_with_three_unit_buckets.sql`` (1-hour writes and audio, before cached audio and images). After
``ensure_schema`` (run twice: every service runs it at start-up), what was stored reads 0 in
the new columns, an old override reads "not priced", new events are summed per unit into
the totals by the altered views, and the operator's reconcile still rebuilds a month.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from libs.common.clickhouse import connect, ensure_schema
from libs.common.events import AppliedPrice, UsagePriced
from libs.common.periods import Period
from libs.common.settings import ClickHouseSettings
from services.aggregator.reconcile import check, rebuild
from services.aggregator.service import Aggregator
from services.aggregator.store import PricedEventStore
from services.invoicing.repository import InvoicingRepository
from services.pricing.calculation import price_usage
from services.pricing.repository import OverrideRepository

pytestmark = pytest.mark.integration

SUPPORT = Path(__file__).parents[1] / "support"
AT = datetime(2026, 10, 3, 12, tzinfo=UTC)
D = Decimal

CLAUDE = AppliedPrice(
    source="catalog", price_id="anthropic/claude-sonnet-4-5", effective_from=None,
    input_per_mtok=D("3"), output_per_mtok=D("15"), cache_read_per_mtok=D("0.3"), cache_write_per_mtok=D("3.75"),
    reasoning_per_mtok=D("15"), cache_write_1h_per_mtok=D("6"),
)


def _priced(event_id: str, **tokens: int) -> UsagePriced:
    fields = dict(event_id=event_id, client_id="acme", provider="anthropic", model="claude-sonnet-4-5",
                  timestamp=AT, received_at=AT, **tokens)
    usage = UsagePriced.model_construct(**fields)
    return UsagePriced(**fields, price=CLAUDE, cost=price_usage(usage, CLAUDE), priced_at=AT)


@pytest.mark.parametrize("old_schema", ["schema_before_unit_buckets.sql", "schema_with_three_unit_buckets.sql"])
async def test_an_old_database_gets_the_unit_columns_and_bills_them(
    clickhouse_settings: ClickHouseSettings, old_schema: str,
) -> None:
    admin = await connect(clickhouse_settings, database="default")
    await admin.command(f"CREATE DATABASE `{clickhouse_settings.database}`")
    await admin.close()
    client = await connect(clickhouse_settings)
    try:
        sql = "\n".join(line for line in (SUPPORT / old_schema).read_text().splitlines() if not line.startswith("--"))
        for statement in filter(str.strip, sql.split(";")):
            await client.command(statement)
        # an event and an override stored by the old version (same price row, no unit prices)
        await client.command(
            "INSERT INTO priced_events (client_id, event_id, timestamp, received_at, priced_at, provider, model,"
            " project, tags, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,"
            " price_source, price_id, price_effective_from, price_tier, input_per_mtok, output_per_mtok,"
            " cache_read_per_mtok, cache_write_per_mtok, reasoning_per_mtok, input_usd, output_usd, cache_read_usd,"
            " cache_write_usd, reasoning_usd, cost_usd) VALUES ('acme', 'old', '2026-10-02 10:00:00',"
            " '2026-10-02 10:00:00', '2026-10-02 10:00:00', 'anthropic', 'claude-sonnet-4-5', '', {}, 1000000, 0,"
            " 0, 1000000, 0, 'catalog', 'anthropic/claude-sonnet-4-5', NULL, '', 3, 15, 0.3, 3.75, 15, 3, 0, 0,"
            " 3.75, 0, 6.75)")
        await client.command(
            "INSERT INTO price_overrides (override_id, provider, model, effective_from, effective_to, input_per_mtok,"
            " output_per_mtok, cache_read_per_mtok, cache_write_per_mtok, reasoning_per_mtok, note, created_at)"
            " VALUES ('ov-old', 'openai', 'gpt-4o', '2026-01-01 00:00:00', NULL, 2, 8, NULL, NULL, NULL, '',"
            " '2026-01-01 00:00:00')")

        await ensure_schema(clickhouse_settings)
        await ensure_schema(clickhouse_settings)  # every service runs it: the upgrade is idempotent

        (override,) = await OverrideRepository(client).all()
        assert (override.override_id, override.input_per_mtok, override.cache_write_1h_per_mtok,
                override.input_audio_per_mtok) == ("ov-old", D("2"), None, None)

        # new events with 1-hour writes: 1M x $3 + 0.5M x $3.75 + 2M x $6 = 3 + 1.875 + 12 = $16.875
        result = await Aggregator(PricedEventStore(client)).record_priced(
            [_priced("new-1", input_tokens=1_000_000, cache_write_tokens=500_000, cache_write_1h_tokens=1_500_000),
             _priced("new-2", cache_write_1h_tokens=500_000)], token="t1")
        assert result.inserted == 2

        lines = await InvoicingRepository(client).client_usage("acme", Period.parse("2026-10"))
        by_price = {line.cache_write_1h_per_mtok: line for line in lines}
        old, new = by_price[D(0)], by_price[D(6)]  # two price rows: one line each
        assert (old.events, old.input_tokens, old.cache_write_tokens, old.cache_write_1h_tokens, old.cost_usd) == (
            1, 1_000_000, 1_000_000, 0, D("6.75"))
        assert (new.events, new.input_tokens, new.cache_write_tokens, new.cache_write_1h_tokens, new.cost_usd) == (
            2, 1_000_000, 500_000, 2_000_000, D("16.875"))
        cost_1h = await client.query("SELECT sum(cache_write_1h_usd) FROM usage_totals_daily")
        assert cost_1h.result_rows[0][0] == D(12)

        # the newest units too: 100,000 cached audio tokens at $0.30 = $0.03
        realtime = CLAUDE.model_copy(update={"price_id": "realtime", "cache_audio_read_per_mtok": D("0.3")})
        fields = dict(event_id="rt", client_id="acme", provider="openai", model="gpt-realtime-mini", timestamp=AT,
                      received_at=AT, cache_audio_read_tokens=100_000)
        usage = UsagePriced.model_construct(**fields)
        await Aggregator(PricedEventStore(client)).record_priced(
            [UsagePriced(**fields, price=realtime, cost=price_usage(usage, realtime), priced_at=AT)], token="t2")
        (line,) = [u for u in await InvoicingRepository(client).client_usage("acme", Period.parse("2026-10"))
                   if u.price_id == "realtime"]
        assert (line.cache_audio_read_tokens, line.cache_audio_read_per_mtok, line.cost_usd) == (
            100_000, D("0.3"), D("0.03"))

        assert await check(client, "2026-10") == []
        await rebuild(client, "2026-10")  # named columns: the upgraded tables have them elsewhere
        assert await check(client, "2026-10") == []
        rebuilt = await InvoicingRepository(client).client_usage("acme", Period.parse("2026-10"))
        assert sorted((u.cache_write_1h_tokens, u.cost_usd) for u in rebuilt) == [
            (0, D("0.03")), (0, D("6.75")), (2_000_000, D("16.875"))]
    finally:
        await client.close()

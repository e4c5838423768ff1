"""Check (and if need be rebuild) the rolling totals against the stored events.

    python -m services.aggregator.reconcile check 2026-11
    python -m services.aggregator.reconcile rebuild 2026-11   # stop the aggregator first

``check`` compares, per client, the events and exact cost in ``priced_events`` (one row
per (client_id, event_id), whatever merges have or have not happened yet) with the
monthly and daily totals. They differ only if a ClickHouse crash interrupted an insert
between the raw table and its views, or a duplicate slipped past the aggregator's
dedup: a client resent an event after the idempotency window (``IDEMPOTENCY_WINDOW_DAYS``
after it was stored), so its key had been dropped from ``event_keys``. ``rebuild`` recomputes
that month's totals from the deduplicated events; with the aggregator running, an
insert between the drop and the re-insert could be counted twice, hence "stop first".
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from decimal import Decimal

from clickhouse_connect.driver.asyncclient import AsyncClient

from libs.common.clickhouse import connect
from libs.common.schema import COST_COLUMNS, LINE_KEY, TOKEN_COLUMNS
from libs.common.settings import ClickHouseSettings

DEDUPED_EVENTS = (
    "SELECT * FROM priced_events FINAL "
    "WHERE toStartOfMonth(timestamp) = toDate({month:String})"
)


@dataclass(frozen=True)
class Mismatch:
    client_id: str
    table: str
    events: tuple[int, int]
    cost_usd: tuple[Decimal, Decimal]


async def _sums(client: AsyncClient, sql: str, month: str) -> dict[str, tuple[int, Decimal]]:
    result = await client.query(sql, parameters={"month": f"{month}-01"})
    return {row[0]: (int(row[1]), row[2]) for row in result.result_rows}


async def check(client: AsyncClient, month: str) -> list[Mismatch]:
    events = await _sums(
        client, f"SELECT client_id, count(), sum(cost_usd) FROM ({DEDUPED_EVENTS}) GROUP BY client_id", month)
    mismatches = []
    for table, period in (("usage_totals_monthly", "month"), ("usage_totals_daily", "day")):
        totals = await _sums(
            client,
            f"SELECT client_id, sum(events), sum(cost_usd) FROM {table} "
            f"WHERE toStartOfMonth({period}) = toDate({{month:String}}) GROUP BY client_id",
            month,
        )
        for client_id in sorted(events.keys() | totals.keys()):
            expected = events.get(client_id, (0, Decimal(0)))
            found = totals.get(client_id, (0, Decimal(0)))
            if expected != found:
                mismatches.append(Mismatch(client_id, table, (expected[0], found[0]), (expected[1], found[1])))
    return mismatches


async def rebuild(client: AsyncClient, month: str) -> None:
    partition = month.replace("-", "")
    sums = ", ".join(f"sum({c}) AS {c}" for c in (*TOKEN_COLUMNS, *COST_COLUMNS))
    key = ", ".join(LINE_KEY)
    for table, period, expr in (("usage_totals_monthly", "month", "toStartOfMonth(timestamp)"),
                                ("usage_totals_daily", "day", "toDate(timestamp)")):
        await client.command(f"ALTER TABLE {table} DROP PARTITION {{partition:String}}",
                             parameters={"partition": partition})
        # columns named: a table upgraded in place has its newer columns in another position
        columns = ", ".join(("client_id", period, *LINE_KEY, "events", *TOKEN_COLUMNS, *COST_COLUMNS))
        await client.command(
            f"INSERT INTO {table} ({columns}) SELECT client_id, {expr} AS {period}, {key}, count() AS events, {sums} "
            f"FROM ({DEDUPED_EVENTS}) GROUP BY client_id, {period}, {key}",
            parameters={"month": f"{month}-01"},
            # the totals tables drop a block identical to one seen recently: an earlier
            # rebuild of the same month would make this one write nothing
            settings={"insert_deduplicate": 0},
        )


async def main_async(command: str, month: str) -> int:
    client = await connect(ClickHouseSettings())
    try:
        if command == "rebuild":
            await rebuild(client, month)
        mismatches = await check(client, month)
    finally:
        await client.close()
    for m in mismatches:
        print(f"{m.client_id} {m.table}: events {m.events[0]} stored vs {m.events[1]} in totals, "
              f"cost {m.cost_usd[0]} vs {m.cost_usd[1]}")
    print(f"{month}: {'totals match the stored events' if not mismatches else f'{len(mismatches)} mismatches'}")
    return 0 if not mismatches else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["check", "rebuild"])
    parser.add_argument("month", help="YYYY-MM")
    args = parser.parse_args(argv)
    return asyncio.run(main_async(args.command, args.month))


if __name__ == "__main__":
    sys.exit(main())

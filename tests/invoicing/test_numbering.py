"""Gapless numbers on a real PostgreSQL: concurrent issuers, lost races, and a SIGKILL mid-issue."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime
from decimal import Decimal

import asyncpg
import pytest

from services.invoicing.ledger import Ledger, NewDocument
from services.invoicing.numbering import format_number

pytestmark = pytest.mark.integration

AT = datetime(2026, 11, 2, 9, tzinfo=UTC)


def document(client_id: str, period: str = "2026-10", first: int = 1) -> NewDocument:
    def render(number: str) -> tuple[str, str, Decimal]:
        return f'{{"number": "{number}"}}', f"number,{number}\r\n", Decimal("1.00")

    return NewDocument(kind="invoice", series="invoice", prefix="TT", first_number=first, client_id=client_id,
                       period=period, issued_at=AT, due_date=date(2026, 12, 2), usage_cutoff=AT, render=render)


def test_number_format() -> None:
    assert format_number("TT", 2026, 123) == "TT-2026-000123"
    assert format_number("", 2026, 1) == "2026-000001"


async def test_two_instances_issuing_100_clients_at_once_get_100_numbers_without_gaps(database_url: str) -> None:
    pools = [await asyncpg.create_pool(database_url, min_size=5, max_size=5) for _ in range(2)]
    try:
        ledgers = [Ledger(pool) for pool in pools]
        # Every client is issued by both instances at once: one wins, the other finds it taken.
        results = await asyncio.gather(*(
            ledger.store([document(f"c{i:03d}")]) for i in range(100) for ledger in ledgers))
        won = [stored[0] for stored in results if stored is not None]
        assert len(won) == 100
        assert sorted(d.client_id for d in won) == [f"c{i:03d}" for i in range(100)]
        assert sorted(d.number for d in won) == [f"TT-2026-{n:06d}" for n in range(1, 101)]
        listing = await ledgers[0].listing(period="2026-10")
        assert len(listing) == 100 and len({d.number for d in listing}) == 100
        # The next one continues the series: the 100 lost races used up nothing.
        [next_one] = await ledgers[1].store([document("late")]) or []
        assert next_one.number == "TT-2026-000101"
    finally:
        for pool in pools:
            await pool.close()


async def test_a_series_starts_where_the_agency_left_off(database_url: str) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        [first] = await Ledger(pool).store([document("acme", first=123)]) or []
        [second] = await Ledger(pool).store([document("beta", first=123)]) or []
        assert (first.number, second.number) == ("TT-2026-000123", "TT-2026-000124")
    finally:
        await pool.close()


async def test_a_process_killed_while_issuing_leaves_no_gap_and_no_duplicate(database_url: str) -> None:
    # A separate process takes a number and inserts its invoice, then dies (SIGKILL) before committing.
    script = textwrap.dedent(f"""
        import asyncio, asyncpg, sys
        from services.invoicing.numbering import take_number
        async def main():
            connection = await asyncpg.connect({database_url!r})
            async with connection.transaction():
                number = await take_number(connection, "invoice", 1)
                await connection.execute(
                    "INSERT INTO documents (kind, series, sequence, number, client_id, period, status, issued_at,"
                    " due_date, usage_cutoff, total, body_json, body_csv) VALUES ('invoice', 'invoice', $1::bigint,"
                    " 'TT-2026-' || lpad($1::text, 6, '0'), 'crashed', '2026-10', 'issued', now(), current_date,"
                    " now(), 0, '{{}}', '')", number)
                print(number, flush=True)
                await asyncio.sleep(60)
        asyncio.run(main())
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "1"  # it holds number 1, uncommitted
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        ledger = Ledger(pool)
        [after] = await ledger.store([document("acme")]) or []
        assert after.number == "TT-2026-000001"  # the dead transaction's number was never used
        assert await ledger.live_invoice("crashed", "2026-10") is None
        assert [d.number for d in await ledger.listing()] == ["TT-2026-000001"]
    finally:
        await pool.close()

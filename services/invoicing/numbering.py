"""Gapless document numbers: one counter row per series, taken in the issuing transaction.

``take_number`` must run inside the transaction that inserts the document. Its ``UPDATE``
locks the series row until that transaction ends, so two issuers (two instances, two
tasks) queue on it and get consecutive numbers; if the transaction rolls back (a crash,
a lost race on the same client and month, any error) the counter rolls back with it, so
the number is reused and no gap is ever left. A sequence (``nextval``) would be faster
but is not transactional: a rollback leaves a hole.
"""

from __future__ import annotations

from asyncpg import Connection

__all__ = ["format_number", "take_number"]


def format_number(prefix: str, year: int, sequence: int) -> str:
    """``TT-2026-000123``; no prefix gives ``2026-000123``."""
    return f"{prefix}-{year}-{sequence:06d}" if prefix else f"{year}-{sequence:06d}"


async def take_number(connection: Connection, series: str, first: int) -> int:
    """The next number of ``series`` (``first`` when the series is new). Call inside a transaction."""
    if not connection.is_in_transaction():
        raise RuntimeError("take_number must run inside the transaction that stores the document")
    await connection.execute(
        "INSERT INTO number_series (series, next_number) VALUES ($1, $2) ON CONFLICT (series) DO NOTHING",
        series, first)
    number = await connection.fetchval(
        "UPDATE number_series SET next_number = next_number + 1 WHERE series = $1 RETURNING next_number - 1", series)
    return int(number)

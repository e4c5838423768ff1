"""Filling ClickHouse with millions of priced events fast, to time the invoice API at scale.

One ``INSERT … SELECT … FROM numbers(N)`` into ``priced_events``, so the materialized
views fill the daily and monthly totals exactly as the aggregator's inserts do (the
invoice reads the totals). The rows belong to synthetic clients ``synth-0000``… over
the last twelve months with a catalog-like model mix; their amounts are computed in
floating point, which is fine: nothing checks them, they are there to be read.
"""

from __future__ import annotations

from clickhouse_connect.driver.asyncclient import AsyncClient

SYNTH_PREFIX = "synth-"

_MODELS = (  # (provider, model, input, output, cache read per MTok)
    ("openai", "gpt-4o", "2.5", "10", "1.25"),
    ("openai", "gpt-4o-mini", "0.15", "0.6", "0.075"),
    ("openai", "gpt-4.1-mini", "0.4", "1.6", "0.1"),
    ("openai", "o4-mini", "1.1", "4.4", "0.275"),
    ("anthropic", "claude-3-5-sonnet", "3", "15", "0.3"),
    ("anthropic", "claude-3-5-haiku", "0.8", "4", "0.08"),
    ("google", "gemini-2.0-flash", "0.1", "0.4", "0.025"),
    ("google", "gemini-2.5-flash", "0.3", "2.5", "0.03"),
)


def _array(values: list[str], cast: str = "") -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"arrayMap(x -> {cast}(x, 12), [{quoted}])" if cast else f"[{quoted}]"


def bulk_insert_sql(rows: int, clients: int, seed: int = 1) -> str:
    """The INSERT for ``rows`` synthetic priced events over ``clients`` clients (constants only)."""
    providers = _array([m[0] for m in _MODELS])
    models = _array([m[1] for m in _MODELS])
    input_p = _array([m[2] for m in _MODELS], "toDecimal128")
    output_p = _array([m[3] for m in _MODELS], "toDecimal128")
    cache_p = _array([m[4] for m in _MODELS], "toDecimal128")
    n = len(_MODELS)
    return f"""
INSERT INTO priced_events (client_id, event_id, timestamp, received_at, priced_at, provider, model, project, tags,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
    price_source, price_id, price_effective_from, price_tier,
    input_per_mtok, output_per_mtok, cache_read_per_mtok, cache_write_per_mtok, reasoning_per_mtok,
    input_usd, output_usd, cache_read_usd, cache_write_usd, reasoning_usd, cost_usd)
SELECT client_id, event_id, ts, ts, ts, provider, model, 'synthetic', map('feature', 'chat'),
    input_tokens, output_tokens, cache_read_tokens, 0, 0,
    'catalog', concat(provider, '/', model), NULL, '',
    in_p, out_p, cr_p, in_p, out_p,
    in_usd, out_usd, cr_usd, toDecimal128(0, 18), toDecimal128(0, 18), in_usd + out_usd + cr_usd
FROM (
    SELECT
        concat('{SYNTH_PREFIX}', leftPad(toString(cityHash64(number, {seed}, 1) % {clients}), 4, '0')) AS client_id,
        concat(hex(cityHash64(number, {seed}, 2)), hex(number)) AS event_id,
        now64(6) - toIntervalSecond(cityHash64(number, {seed}, 3) % (365 * 86400)) AS ts,
        1 + cityHash64(number, {seed}, 4) % {n} AS m,
        {providers}[m] AS provider,
        {models}[m] AS model,
        {input_p}[m] AS in_p,
        {output_p}[m] AS out_p,
        {cache_p}[m] AS cr_p,
        100 + cityHash64(number, {seed}, 5) % 6000 AS input_tokens,
        cityHash64(number, {seed}, 6) % 1200 AS output_tokens,
        if(number % 3 = 0, cityHash64(number, {seed}, 7) % 5000, 0) AS cache_read_tokens,
        toDecimal128(input_tokens * toFloat64(in_p) / 1e6, 18) AS in_usd,
        toDecimal128(output_tokens * toFloat64(out_p) / 1e6, 18) AS out_usd,
        toDecimal128(cache_read_tokens * toFloat64(cr_p) / 1e6, 18) AS cr_usd
    FROM numbers({rows})
)
"""


async def bulk_insert(client: AsyncClient, rows: int, clients: int = 2_000) -> None:
    await client.command(bulk_insert_sql(rows, clients),
                         settings={"max_insert_threads": 2, "max_threads": 2, "async_insert": 0})


# --------------------------------------------------------------------------- history of the active clients

HISTORY_SOURCE = "bench-history"
"""``price_source`` of the history rows: their own invoice lines, so the benchmark's exact
totals can leave them out (``bench/pipeline.py``), and stored exactly like any other row."""

_SLOTS = 4_096


def _client_slots(weights: list[float]) -> list[int]:
    """``_SLOTS`` client indexes in proportion to ``weights``: picking a slot uniformly picks a
    client with its weight (a Zipf mix as cheap in SQL as one array lookup)."""
    total = sum(weights)
    slots: list[int] = []
    running = 0.0
    for index, weight in enumerate(weights):
        running += weight / total
        slots.extend([index] * (round(running * _SLOTS) - len(slots)))
    return slots + [len(weights) - 1] * (_SLOTS - len(slots))


def _history_select(rows: int, offset: int, clients: list[str], weights: list[float], days: float,
                    now: str, seed: int) -> str:
    """``rows`` priced events of ``clients`` (rows ``offset``… of a deterministic stream: the
    same numbers give the same events), stored uniformly over the ``days`` before ``now``.

    Event ids are random 128-bit hex, like the workload's and like the UUIDs most clients
    send: ids that sort together (a shared prefix and a counter) would sit in a few
    granules and hide what a lookup among them costs. ``received_at``, ``priced_at`` and
    ``inserted_at`` are the event's time: history arrived as it happened."""
    names = ", ".join(f"'{name}'" for name in clients)
    slots = ", ".join(str(index + 1) for index in _client_slots(weights))
    providers = _array([m[0] for m in _MODELS])
    models = _array([m[1] for m in _MODELS])
    input_p = _array([m[2] for m in _MODELS], "toDecimal128")
    output_p = _array([m[3] for m in _MODELS], "toDecimal128")
    cache_p = _array([m[4] for m in _MODELS], "toDecimal128")
    span_us = int(days * 86_400 * 1_000_000)
    return f"""
    SELECT
        [{names}][[{slots}][1 + cityHash64(number, {seed}, 1) % {_SLOTS}]] AS client_id,
        concat(leftPad(lower(hex(cityHash64(number, {seed}, 2))), 16, '0'),
               leftPad(lower(hex(cityHash64(number, {seed}, 8))), 16, '0')) AS event_id,
        toDateTime64('{now}', 6, 'UTC') - toIntervalMicrosecond(cityHash64(number, {seed}, 3) % {span_us}) AS ts,
        1 + cityHash64(number, {seed}, 4) % {len(_MODELS)} AS m,
        {providers}[m] AS provider,
        {models}[m] AS model,
        {input_p}[m] AS in_p,
        {output_p}[m] AS out_p,
        {cache_p}[m] AS cr_p,
        100 + cityHash64(number, {seed}, 5) % 6000 AS input_tokens,
        cityHash64(number, {seed}, 6) % 1200 AS output_tokens,
        if(number % 3 = 0, cityHash64(number, {seed}, 7) % 5000, 0) AS cache_read_tokens,
        toDecimal128(input_tokens * toFloat64(in_p) / 1e6, 18) AS in_usd,
        toDecimal128(output_tokens * toFloat64(out_p) / 1e6, 18) AS out_usd,
        toDecimal128(cache_read_tokens * toFloat64(cr_p) / 1e6, 18) AS cr_usd
    FROM numbers({offset}, {rows})"""


def history_inserts(rows: int, offset: int, clients: list[str], weights: list[float], days: float, now: str,
                    window_days: int, seed: int = 7) -> tuple[str, str]:
    """The two INSERTs that store ``rows`` events of history as the pipeline would have stored
    them: into ``priced_events`` (the totals views fill as for the aggregator's inserts) and,
    for the events stored in the last ``window_days`` days, their keys into ``event_keys``
    under the day they were stored (what ``event_keys_mv`` wrote on each of those days; the
    TTL has dropped the older ones). Run the first with ``event_keys_mv`` detached: it would
    file every key under today."""
    from libs.common.schema import EVENT_KEY

    select = _history_select(rows, offset, clients, weights, days, now, seed)
    events = f"""
INSERT INTO priced_events (client_id, event_id, timestamp, received_at, priced_at, provider, model, project, tags,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
    price_source, price_id, price_effective_from, price_tier,
    input_per_mtok, output_per_mtok, cache_read_per_mtok, cache_write_per_mtok, reasoning_per_mtok,
    input_usd, output_usd, cache_read_usd, cache_write_usd, reasoning_usd, cost_usd, inserted_at)
SELECT client_id, event_id, ts, ts, ts, provider, model, 'history', map('feature', 'chat'),
    input_tokens, output_tokens, cache_read_tokens, 0, 0,
    '{HISTORY_SOURCE}', concat(provider, '/', model), NULL, '',
    in_p, out_p, cr_p, in_p, out_p,
    in_usd, out_usd, cr_usd, toDecimal128(0, 18), toDecimal128(0, 18), in_usd + out_usd + cr_usd, ts
FROM ({select})
"""
    keys = f"""
INSERT INTO event_keys (key, received_day)
SELECT {EVENT_KEY}, toDate(ts) FROM ({select})
WHERE toDate(ts) >= toDate(toDateTime64('{now}', 6, 'UTC')) - {window_days}
"""
    return events, keys


async def insert_history(client: AsyncClient, rows: int, offset: int, clients: list[str], weights: list[float],
                         days: float, now: str, chunk: int = 10_000_000) -> None:
    """Store ``rows`` events of history (see ``history_inserts``), ``chunk`` rows per INSERT.

    ``event_keys_mv`` is detached meanwhile, so nothing else may insert into ``priced_events``
    during the call (the benchmark runs it between phases, with the pipeline idle)."""
    from libs.common.schema import IDEMPOTENCY_WINDOW_DAYS

    settings = {"max_insert_threads": 2, "max_threads": 2, "async_insert": 0, "insert_deduplicate": 0}
    await client.command("DETACH TABLE event_keys_mv")
    try:
        for start in range(offset, offset + rows, chunk):
            size = min(chunk, offset + rows - start)
            events, keys = history_inserts(size, start, clients, weights, days, now, IDEMPOTENCY_WINDOW_DAYS)
            await client.command(events, settings=settings)
            await client.command(keys, settings=settings)
    finally:
        await client.command("ATTACH TABLE event_keys_mv")

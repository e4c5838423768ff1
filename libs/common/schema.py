"""ClickHouse tables shared between services, created idempotently at start-up.

Money: per-million-token prices are ``Decimal(38, 12)``; exact per-event amounts are
``Decimal(38, 18)`` (price scale + 6 from dividing by a million), so no cost is ever
rounded before an invoice line. Times are UTC; months are calendar months in UTC.

Exactly-once: ``priced_events`` is keyed by (client_id, event_id). The aggregator
inserts only events whose key is not in ``event_keys`` yet (the keys stored in the last
``IDEMPOTENCY_WINDOW_DAYS``; see services/aggregator/store.py), and the two totals
tables and ``event_keys`` are fed by materialized views on those inserts, so a total
counts each event once. Every insert carries a deterministic ``insert_deduplication_token``
(the Kafka records it came from), and these tables keep the last ``DEDUP_BLOCKS`` tokens,
so an insert that is repeated (its response was lost, or a second owner replays it) is
dropped by ClickHouse, in the views as well. ``ReplacingMergeTree`` on the raw table is
a last guard: a duplicate that slipped in anyway (a resend after the window) collapses
on merge, and ``services.aggregator.reconcile`` finds and repairs the totals.
"""

from __future__ import annotations

from libs.common.events import IDEMPOTENCY_WINDOW_DAYS, UNIT_BUCKETS

__all__ = ["IDEMPOTENCY_WINDOW_DAYS"]  # re-exported for the aggregator's store

PRICE = "Decimal(38, 12)"
AMOUNT = "Decimal(38, 18)"
TIME = "DateTime64(6, 'UTC')"

UNIT_TOKEN_COLUMNS = tuple(unit.tokens for unit in UNIT_BUCKETS)
UNIT_PRICE_COLUMNS = tuple(unit.price for unit in UNIT_BUCKETS)
UNIT_COST_COLUMNS = tuple(unit.cost for unit in UNIT_BUCKETS)
"""Columns of the unit buckets (1-hour cache writes, audio, images), added after the first five. A price
row that does not price a unit stores 0 for it: its events have no tokens there (they would
have been quarantined), so the 0 never bills anything."""

TOKEN_COLUMNS = (
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens",
    *UNIT_TOKEN_COLUMNS,
)
PRICE_COLUMNS = (
    "input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok", "reasoning_per_mtok",
    *UNIT_PRICE_COLUMNS,
)
COST_COLUMNS = (
    "input_usd", "output_usd", "cache_read_usd", "cache_write_usd", "reasoning_usd", *UNIT_COST_COLUMNS, "cost_usd",
)

#: What identifies one invoice line: a model at one price row (and tier).
LINE_KEY = ("provider", "model", "price_source", "price_id", "price_tier", *PRICE_COLUMNS)


DEDUP_BLOCKS = 10_000
"""``non_replicated_deduplication_window``: how many recent insert tokens a table remembers
(the aggregator inserts a few times a second: hours of inserts, far longer than a
redelivery takes). Tables written by materialized views need it too, or a replayed
insert is dropped from ``priced_events`` but counted again in the totals."""

_DEDUP_SETTINGS = f"SETTINGS non_replicated_deduplication_window = {DEDUP_BLOCKS}"


def _columns(names: tuple[str, ...], type_: str) -> str:
    return ",\n    ".join(f"{name} {type_}" for name in names)


PRICED_EVENTS = f"""
CREATE TABLE IF NOT EXISTS priced_events (
    client_id LowCardinality(String),
    event_id String,
    timestamp {TIME},
    received_at {TIME},
    priced_at {TIME},
    provider LowCardinality(String),
    model LowCardinality(String),
    project String,
    tags Map(String, String),
    {_columns(TOKEN_COLUMNS, "UInt64")},
    price_source LowCardinality(String),
    price_id String,
    price_effective_from Nullable({TIME}),
    price_tier LowCardinality(String),
    {_columns(PRICE_COLUMNS, PRICE)},
    {_columns(COST_COLUMNS, AMOUNT)},
    inserted_at {TIME} DEFAULT now64(6)
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (client_id, event_id)
{_DEDUP_SETTINGS}
"""

EVENT_KEY = "reinterpretAsUInt128(sipHash128(client_id, event_id))"
"""One event's key in ``event_keys``: a 128-bit hash of (client_id, event_id). Fixed width,
so ClickHouse compares 16 bytes per stored key instead of a string (the lookup reads every
key of the window: random event ids leave no granule to skip). Two different events share
a key with probability ~n²/2¹²⁹: below 10⁻¹⁸ for ten billion events in a window."""

EVENT_KEYS = f"""
CREATE TABLE IF NOT EXISTS event_keys (
    key UInt128,
    received_day Date
) ENGINE = MergeTree
PARTITION BY received_day
ORDER BY key
TTL received_day + INTERVAL {IDEMPOTENCY_WINDOW_DAYS + 1} DAY
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = {DEDUP_BLOCKS}
"""
"""The keys of the events stored in the idempotency window, one partition per day the
aggregator stored them; whole days are dropped once past the window. What the duplicate
check reads, so its cost follows the traffic of the window, not the whole history."""

EVENT_KEYS_VIEW = f"""
CREATE MATERIALIZED VIEW IF NOT EXISTS event_keys_mv TO event_keys AS
SELECT {EVENT_KEY} AS key, today() AS received_day FROM priced_events
"""

EVENT_KEYS_BACKFILL = f"""
INSERT INTO event_keys SELECT {EVENT_KEY} AS key, toDate(inserted_at) AS received_day FROM priced_events
WHERE inserted_at >= now() - toIntervalDay({IDEMPOTENCY_WINDOW_DAYS + 1})
"""
"""Run once, when ``event_keys`` is created on a database that already holds events (an
upgrade): what was stored in the window stays protected for the rest of the window."""


def _totals_table(name: str, period_column: str) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS {name} (
    client_id LowCardinality(String),
    {period_column} Date,
    provider LowCardinality(String),
    model LowCardinality(String),
    price_source LowCardinality(String),
    price_id String,
    price_tier LowCardinality(String),
    {_columns(PRICE_COLUMNS, PRICE)},
    events UInt64,
    {_columns(TOKEN_COLUMNS, "UInt64")},
    {_columns(COST_COLUMNS, AMOUNT)}
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMM({period_column})
ORDER BY (client_id, {period_column}, {", ".join(LINE_KEY)})
{_DEDUP_SETTINGS}
"""


def _totals_select(period_column: str, period_expr: str) -> str:
    sums = ", ".join(f"sum({c}) AS {c}" for c in (*TOKEN_COLUMNS, *COST_COLUMNS))
    return f"""
SELECT client_id, {period_expr} AS {period_column}, {", ".join(LINE_KEY)}, count() AS events, {sums}
FROM priced_events
GROUP BY client_id, {period_column}, {", ".join(LINE_KEY)}
"""


def _totals_view(name: str, target: str, period_column: str, period_expr: str) -> str:
    return f"CREATE MATERIALIZED VIEW IF NOT EXISTS {name} TO {target} AS {_totals_select(period_column, period_expr)}"


_TOTALS = (
    ("usage_totals_daily", "usage_totals_daily_mv", "day", "toDate(timestamp)"),
    ("usage_totals_monthly", "usage_totals_monthly_mv", "month", "toStartOfMonth(timestamp)"),
)


UNPRICED_EVENTS = f"""
CREATE TABLE IF NOT EXISTS unpriced_events (
    client_id LowCardinality(String),
    event_id String,
    provider LowCardinality(String),
    model LowCardinality(String),
    timestamp {TIME},
    reason String,
    detected_at {TIME},
    payload String,
    status LowCardinality(String),
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (client_id, event_id)
"""

DEAD_LETTERS = f"""
CREATE TABLE IF NOT EXISTS dead_letters (
    letter_id String,
    client_id String,
    event_id String,
    stage LowCardinality(String),
    error_class LowCardinality(String),
    reason String,
    source String,
    dead_lettered_at {TIME},
    payload String,
    status LowCardinality(String),
    resolution String,
    resolved_at Nullable({TIME}),
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY letter_id
"""
"""Every message of the dead-letter topic, recorded by pricing for the admin API (``/v1/dead-letters``):
``letter_id`` is ``<partition>-<offset>`` on the topic, so recording a message again is harmless.
``status`` is ``pending``, ``redriven`` or ``discarded``; a change is a newer version (read ``FINAL``)."""

PRICE_OVERRIDES = f"""
CREATE TABLE IF NOT EXISTS price_overrides (
    override_id String,
    provider LowCardinality(String),
    model String,
    effective_from {TIME},
    effective_to Nullable({TIME}),
    {_columns(PRICE_COLUMNS, "Nullable(" + PRICE + ")")},
    note String,
    created_at {TIME}
) ENGINE = ReplacingMergeTree(created_at)
ORDER BY override_id
"""

BUDGET_BASIS_COLUMN = "budget_basis LowCardinality(String) DEFAULT 'cost'"
"""``billed`` (the budget counts cost × (1 + markup), what the client pays) or ``cost``. Rows
written before the column existed read ``cost``: existing clients keep the meaning their
budget always had; the API gives new clients ``billed``."""


def _client_table(name: str, engine: str, order_by: str) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS {name} (
    client_id String,
    name String,
    markup_percent Decimal(9, 4),
    monthly_budget Nullable(Decimal(38, 2)),
    alert_thresholds Array(Decimal(9, 4)),
    notify Array(String),
    created_at {TIME},
    updated_at {TIME},
    {BUDGET_BASIS_COLUMN}
) ENGINE = {engine}
ORDER BY {order_by}
"""


CLIENTS = _client_table("clients", "ReplacingMergeTree(updated_at)", "client_id")
CLIENT_HISTORY = _client_table("client_history", "MergeTree", "(client_id, updated_at)")
"""Every version of every client record, never merged away: an invoice for a month that
has ended uses the markup that was in force when it ended, whatever was edited since."""

ALERT_DELIVERIES = f"""
CREATE TABLE IF NOT EXISTS alert_deliveries (
    client_id String,
    period Date,
    kind LowCardinality(String),
    threshold Decimal(9, 4),
    channel_id String,
    channel String,
    status LowCardinality(String),
    covered_by Nullable(Decimal(9, 4)),
    title String,
    message String,
    spend_usd {AMOUNT},
    budget_usd Decimal(38, 2),
    projected_usd Nullable(Decimal(38, 2)),
    attempts UInt32,
    last_error String,
    next_attempt_at {TIME},
    created_at {TIME},
    updated_at {TIME},
    delivered_at Nullable({TIME}),
    instance String,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(period)
ORDER BY (client_id, period, kind, threshold, channel_id)
"""
"""What the alerts service decided and delivered: one row per (client, month, alert, channel),
a newer version per state change (sending → retrying → delivered / failed). Read with ``FINAL``.
Holds no secrets: ``channel_id`` is a digest of the apprise URL, ``channel`` its masked form.
See ``services/alerts/__init__.py``."""

def _add_columns(columns: tuple[tuple[str, str, str], ...]) -> str:
    """``ADD COLUMN IF NOT EXISTS`` clauses for ``(name, type, after)`` (idempotent)."""
    return ", ".join(f"ADD COLUMN IF NOT EXISTS {name} {type_} AFTER {after}" for name, type_, after in columns)


def _after(names: tuple[str, ...], first_after: str) -> tuple[tuple[str, str], ...]:
    return tuple(zip(names, (first_after, *names[:-1]), strict=True))


_UNIT_TOKENS = tuple((n, "UInt64", a) for n, a in _after(UNIT_TOKEN_COLUMNS, "reasoning_tokens"))
_UNIT_PRICES = tuple((n, PRICE, a) for n, a in _after(UNIT_PRICE_COLUMNS, "reasoning_per_mtok"))
_UNIT_COSTS = tuple((n, AMOUNT, a) for n, a in _after(UNIT_COST_COLUMNS, "reasoning_usd"))

# Databases from before the unit buckets (1-hour cache writes, audio, images) get their columns with 0
# (NULL for overrides: "not priced"), what every stored event and message had. Idempotent, and
# run in ``STATEMENTS`` right after the table they alter: ClickHouse checks a view's query
# against its source even on ``CREATE ... IF NOT EXISTS`` of a view that exists.
_UNIT_PRICED_EVENTS = f"ALTER TABLE priced_events {_add_columns(_UNIT_TOKENS + _UNIT_PRICES + _UNIT_COSTS)}"
_UNIT_TOTALS = tuple(
    # The unit prices join the line key, so the table's sorting key (what SummingMergeTree
    # sums by) takes them too: ClickHouse allows appending columns added in the same ALTER,
    # and only without a DEFAULT expression (their implicit default, 0, is what old rows mean).
    f"ALTER TABLE {table} {_add_columns(_UNIT_PRICES + _UNIT_TOKENS + _UNIT_COSTS)}, "
    f"MODIFY ORDER BY (client_id, {period}, {', '.join(LINE_KEY)})"
    for table, _, period, _ in _TOTALS
)
# Once the tables have the columns, the views sum them (replaced atomically: no insert missed).
_UNIT_VIEWS = tuple(f"ALTER TABLE {view} MODIFY QUERY {_totals_select(period, expr)}"
                    for _, view, period, expr in _TOTALS)
_UNIT_OVERRIDES = "ALTER TABLE price_overrides " + _add_columns(
    tuple((n, f"Nullable({PRICE})", a) for n, a in _after(UNIT_PRICE_COLUMNS, "reasoning_per_mtok")))


STATEMENTS: tuple[str, ...] = (
    PRICED_EVENTS,
    _UNIT_PRICED_EVENTS,
    *(_totals_table(table, period) for table, _, period, _ in _TOTALS),
    *_UNIT_TOTALS,
    *(_totals_view(view, table, period, expr) for table, view, period, expr in _TOTALS),
    *_UNIT_VIEWS,
    EVENT_KEYS,
    EVENT_KEYS_VIEW,
    UNPRICED_EVENTS,
    DEAD_LETTERS,
    PRICE_OVERRIDES,
    _UNIT_OVERRIDES,
    CLIENTS,
    CLIENT_HISTORY,
    ALERT_DELIVERIES,
)

DEDUPLICATED_TABLES = ("priced_events", "usage_totals_daily", "usage_totals_monthly", "event_keys")
UPGRADES: tuple[str, ...] = tuple(
    f"ALTER TABLE {table} MODIFY SETTING non_replicated_deduplication_window = {DEDUP_BLOCKS}"
    for table in DEDUPLICATED_TABLES
)
"""For databases created before these settings existed (idempotent)."""
UPGRADES += tuple(
    f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {BUDGET_BASIS_COLUMN}" for table in ("clients", "client_history")
)
"""Client records from before ``budget_basis``: the column appears with ``cost`` (idempotent)."""


-- priced_events, the totals and their views, price_overrides as created when the unit buckets were
-- 1-hour cache writes and audio only (before the cached audio and image buckets): an upgrade test's start.
CREATE TABLE IF NOT EXISTS priced_events (
    client_id LowCardinality(String),
    event_id String,
    timestamp DateTime64(6, 'UTC'),
    received_at DateTime64(6, 'UTC'),
    priced_at DateTime64(6, 'UTC'),
    provider LowCardinality(String),
    model LowCardinality(String),
    project String,
    tags Map(String, String),
    input_tokens UInt64,
    output_tokens UInt64,
    cache_read_tokens UInt64,
    cache_write_tokens UInt64,
    reasoning_tokens UInt64,
    cache_write_1h_tokens UInt64,
    input_audio_tokens UInt64,
    output_audio_tokens UInt64,
    price_source LowCardinality(String),
    price_id String,
    price_effective_from Nullable(DateTime64(6, 'UTC')),
    price_tier LowCardinality(String),
    input_per_mtok Decimal(38, 12),
    output_per_mtok Decimal(38, 12),
    cache_read_per_mtok Decimal(38, 12),
    cache_write_per_mtok Decimal(38, 12),
    reasoning_per_mtok Decimal(38, 12),
    cache_write_1h_per_mtok Decimal(38, 12),
    input_audio_per_mtok Decimal(38, 12),
    output_audio_per_mtok Decimal(38, 12),
    input_usd Decimal(38, 18),
    output_usd Decimal(38, 18),
    cache_read_usd Decimal(38, 18),
    cache_write_usd Decimal(38, 18),
    reasoning_usd Decimal(38, 18),
    cache_write_1h_usd Decimal(38, 18),
    input_audio_usd Decimal(38, 18),
    output_audio_usd Decimal(38, 18),
    cost_usd Decimal(38, 18),
    inserted_at DateTime64(6, 'UTC') DEFAULT now64(6)
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (client_id, event_id)
SETTINGS non_replicated_deduplication_window = 10000;
CREATE TABLE IF NOT EXISTS usage_totals_daily (
    client_id LowCardinality(String),
    day Date,
    provider LowCardinality(String),
    model LowCardinality(String),
    price_source LowCardinality(String),
    price_id String,
    price_tier LowCardinality(String),
    input_per_mtok Decimal(38, 12),
    output_per_mtok Decimal(38, 12),
    cache_read_per_mtok Decimal(38, 12),
    cache_write_per_mtok Decimal(38, 12),
    reasoning_per_mtok Decimal(38, 12),
    cache_write_1h_per_mtok Decimal(38, 12),
    input_audio_per_mtok Decimal(38, 12),
    output_audio_per_mtok Decimal(38, 12),
    events UInt64,
    input_tokens UInt64,
    output_tokens UInt64,
    cache_read_tokens UInt64,
    cache_write_tokens UInt64,
    reasoning_tokens UInt64,
    cache_write_1h_tokens UInt64,
    input_audio_tokens UInt64,
    output_audio_tokens UInt64,
    input_usd Decimal(38, 18),
    output_usd Decimal(38, 18),
    cache_read_usd Decimal(38, 18),
    cache_write_usd Decimal(38, 18),
    reasoning_usd Decimal(38, 18),
    cache_write_1h_usd Decimal(38, 18),
    input_audio_usd Decimal(38, 18),
    output_audio_usd Decimal(38, 18),
    cost_usd Decimal(38, 18)
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (client_id, day, provider, model, price_source, price_id, price_tier, input_per_mtok, output_per_mtok, cache_read_per_mtok, cache_write_per_mtok, reasoning_per_mtok, cache_write_1h_per_mtok, input_audio_per_mtok, output_audio_per_mtok)
SETTINGS non_replicated_deduplication_window = 10000;
CREATE TABLE IF NOT EXISTS usage_totals_monthly (
    client_id LowCardinality(String),
    month Date,
    provider LowCardinality(String),
    model LowCardinality(String),
    price_source LowCardinality(String),
    price_id String,
    price_tier LowCardinality(String),
    input_per_mtok Decimal(38, 12),
    output_per_mtok Decimal(38, 12),
    cache_read_per_mtok Decimal(38, 12),
    cache_write_per_mtok Decimal(38, 12),
    reasoning_per_mtok Decimal(38, 12),
    cache_write_1h_per_mtok Decimal(38, 12),
    input_audio_per_mtok Decimal(38, 12),
    output_audio_per_mtok Decimal(38, 12),
    events UInt64,
    input_tokens UInt64,
    output_tokens UInt64,
    cache_read_tokens UInt64,
    cache_write_tokens UInt64,
    reasoning_tokens UInt64,
    cache_write_1h_tokens UInt64,
    input_audio_tokens UInt64,
    output_audio_tokens UInt64,
    input_usd Decimal(38, 18),
    output_usd Decimal(38, 18),
    cache_read_usd Decimal(38, 18),
    cache_write_usd Decimal(38, 18),
    reasoning_usd Decimal(38, 18),
    cache_write_1h_usd Decimal(38, 18),
    input_audio_usd Decimal(38, 18),
    output_audio_usd Decimal(38, 18),
    cost_usd Decimal(38, 18)
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(month)
ORDER BY (client_id, month, provider, model, price_source, price_id, price_tier, input_per_mtok, output_per_mtok, cache_read_per_mtok, cache_write_per_mtok, reasoning_per_mtok, cache_write_1h_per_mtok, input_audio_per_mtok, output_audio_per_mtok)
SETTINGS non_replicated_deduplication_window = 10000;
CREATE MATERIALIZED VIEW IF NOT EXISTS usage_totals_daily_mv TO usage_totals_daily AS 
SELECT client_id, toDate(timestamp) AS day, provider, model, price_source, price_id, price_tier, input_per_mtok, output_per_mtok, cache_read_per_mtok, cache_write_per_mtok, reasoning_per_mtok, cache_write_1h_per_mtok, input_audio_per_mtok, output_audio_per_mtok, count() AS events, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(cache_read_tokens) AS cache_read_tokens, sum(cache_write_tokens) AS cache_write_tokens, sum(reasoning_tokens) AS reasoning_tokens, sum(cache_write_1h_tokens) AS cache_write_1h_tokens, sum(input_audio_tokens) AS input_audio_tokens, sum(output_audio_tokens) AS output_audio_tokens, sum(input_usd) AS input_usd, sum(output_usd) AS output_usd, sum(cache_read_usd) AS cache_read_usd, sum(cache_write_usd) AS cache_write_usd, sum(reasoning_usd) AS reasoning_usd, sum(cache_write_1h_usd) AS cache_write_1h_usd, sum(input_audio_usd) AS input_audio_usd, sum(output_audio_usd) AS output_audio_usd, sum(cost_usd) AS cost_usd
FROM priced_events
GROUP BY client_id, day, provider, model, price_source, price_id, price_tier, input_per_mtok, output_per_mtok, cache_read_per_mtok, cache_write_per_mtok, reasoning_per_mtok, cache_write_1h_per_mtok, input_audio_per_mtok, output_audio_per_mtok;
CREATE MATERIALIZED VIEW IF NOT EXISTS usage_totals_monthly_mv TO usage_totals_monthly AS 
SELECT client_id, toStartOfMonth(timestamp) AS month, provider, model, price_source, price_id, price_tier, input_per_mtok, output_per_mtok, cache_read_per_mtok, cache_write_per_mtok, reasoning_per_mtok, cache_write_1h_per_mtok, input_audio_per_mtok, output_audio_per_mtok, count() AS events, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(cache_read_tokens) AS cache_read_tokens, sum(cache_write_tokens) AS cache_write_tokens, sum(reasoning_tokens) AS reasoning_tokens, sum(cache_write_1h_tokens) AS cache_write_1h_tokens, sum(input_audio_tokens) AS input_audio_tokens, sum(output_audio_tokens) AS output_audio_tokens, sum(input_usd) AS input_usd, sum(output_usd) AS output_usd, sum(cache_read_usd) AS cache_read_usd, sum(cache_write_usd) AS cache_write_usd, sum(reasoning_usd) AS reasoning_usd, sum(cache_write_1h_usd) AS cache_write_1h_usd, sum(input_audio_usd) AS input_audio_usd, sum(output_audio_usd) AS output_audio_usd, sum(cost_usd) AS cost_usd
FROM priced_events
GROUP BY client_id, month, provider, model, price_source, price_id, price_tier, input_per_mtok, output_per_mtok, cache_read_per_mtok, cache_write_per_mtok, reasoning_per_mtok, cache_write_1h_per_mtok, input_audio_per_mtok, output_audio_per_mtok;
CREATE TABLE IF NOT EXISTS unpriced_events (
    client_id LowCardinality(String),
    event_id String,
    provider LowCardinality(String),
    model LowCardinality(String),
    timestamp DateTime64(6, 'UTC'),
    reason String,
    detected_at DateTime64(6, 'UTC'),
    payload String,
    status LowCardinality(String),
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (client_id, event_id);
CREATE TABLE IF NOT EXISTS price_overrides (
    override_id String,
    provider LowCardinality(String),
    model String,
    effective_from DateTime64(6, 'UTC'),
    effective_to Nullable(DateTime64(6, 'UTC')),
    input_per_mtok Nullable(Decimal(38, 12)),
    output_per_mtok Nullable(Decimal(38, 12)),
    cache_read_per_mtok Nullable(Decimal(38, 12)),
    cache_write_per_mtok Nullable(Decimal(38, 12)),
    reasoning_per_mtok Nullable(Decimal(38, 12)),
    cache_write_1h_per_mtok Nullable(Decimal(38, 12)),
    input_audio_per_mtok Nullable(Decimal(38, 12)),
    output_audio_per_mtok Nullable(Decimal(38, 12)),
    note String,
    created_at DateTime64(6, 'UTC')
) ENGINE = ReplacingMergeTree(created_at)
ORDER BY override_id;

"""Prometheus metrics of every service (``GET /metrics`` on each one's HTTP port).

Defined once here so that names and labels agree across services; each process only
moves the ones of its own stage. Names follow Prometheus conventions (``_total`` for
counters, seconds for durations). The labels are bounded: stage and topic names, error
classes from ``libs.common.failures``, and partition numbers.
"""

from __future__ import annotations

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

EVENTS_RECEIVED = Counter("tokentally_events_received", "Events in ingest request bodies (valid or not).")
EVENTS_ACCEPTED = Counter("tokentally_events_accepted", "Events ingest accepted and Kafka acknowledged.")
EVENTS_REJECTED = Counter("tokentally_events_rejected", "Events ingest refused, by the first field at fault.",
                          ["field"])
OTLP_SPANS = Counter("tokentally_otlp_spans", "OTLP spans ingest received, by outcome (accepted, "
                     "ignored_no_usage, rejected_no_client, rejected_invalid).", ["outcome"])
MESSAGES_PUBLISHED = Counter("tokentally_messages_published", "Kafka messages acknowledged, by topic.", ["topic"])
EVENTS_PUBLISHED = Counter("tokentally_events_published", "Events in acknowledged Kafka messages, by topic.",
                           ["topic"])
BYTES_PUBLISHED = Counter("tokentally_bytes_published", "Bytes of message bodies acknowledged, by topic.", ["topic"])
EVENTS_PRICED = Counter("tokentally_events_priced", "Events pricing priced.")
EVENTS_UNPRICED = Counter("tokentally_events_unpriced", "Events pricing quarantined for want of a price.")
EVENTS_DEAD_LETTERED = Counter("tokentally_events_dead_lettered",
                               "Events (or unreadable messages) sent to the dead-letter topic.",
                               ["stage", "error_class"])
EVENTS_INSERTED = Counter("tokentally_events_inserted", "Rows the aggregator inserted into ClickHouse, by table.",
                          ["table"])
INSERT_RETRIES = Counter("tokentally_insert_retries",
                         "Inserts retried under the same deduplication token after an unknown outcome.")
DUPLICATES_DROPPED = Counter("tokentally_duplicates_dropped",
                             "Priced events the aggregator skipped as already stored or repeated in a batch.")
BATCH_SECONDS = Histogram("tokentally_batch_seconds", "Time to handle one consumed batch, by consumer.",
                          ["consumer"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
BATCH_EVENTS = Histogram("tokentally_batch_events", "Events per consumed batch, by consumer.", ["consumer"],
                         buckets=(1, 10, 100, 500, 1_000, 5_000, 10_000, 50_000))
RETRIES = Counter("tokentally_consumer_retries", "Batches retried after a transient failure, by consumer.",
                  ["consumer"])
RETRIES_IN_PROGRESS = Gauge("tokentally_consumer_retries_in_progress",
                            "Consecutive transient failures of the batch a consumer is retrying (0: none).",
                            ["consumer"])
CONSUMER_LAG = Gauge("tokentally_consumer_lag", "Messages not yet committed by a consumer group, per partition.",
                     ["group", "topic", "partition"])
CONSUMER_STALLED_SECONDS = Gauge("tokentally_consumer_stalled_seconds",
                                 "Seconds since a group with lag last committed progress (0: moving or idle).",
                                 ["group"])
DEAD_LETTER_MESSAGES = Gauge("tokentally_dead_letter_messages", "Messages in the dead-letter topic (all time).")


def mount_metrics(app: FastAPI) -> None:
    """Serve this process's metrics at ``GET /metrics`` (text format, no auth: keep the port private)."""

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

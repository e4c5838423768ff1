"""Budget alerts: tell the account manager, through apprise, when a client's month-to-date AI
spend crosses a threshold of its monthly budget, or is on track to exceed the budget.

Design (details in each module):

Inputs
    ``spend.updated.v1`` (the aggregator publishes one per (client, month) after every batch it
    stores), consumed in the ``tokentally-alerts`` group; the client's ``monthly_budget``,
    ``alert_thresholds`` and ``notify`` from ``clients`` FINAL; month-to-date spend from
    ``usage_totals_monthly`` (``sum(cost_usd)``, at cost: the providers' prices before the
    client's markup, the figure the invoice's base cost is built from), per model for the
    "top models" line. A sweep every ``ALERTS_SWEEP_SECONDS`` (30 s) re-evaluates every
    watched client as a safety net and for what no spend update announces (a budget edited
    mid-month, a notify target added, deliveries due for another round).

One owner per client (``ownership.py``)
    Spend updates are keyed by client_id, so Kafka's consumer group gives each client's
    updates to one instance at a time; the sweep looks only at clients whose partition this
    instance holds (same murmur2 rule), and evaluations of one client are serialised by a
    lock within the instance. Partitions being revoked wait for evaluations in flight.

Once per threshold per period (``decisions.py``, ``store.py``)
    The record of what was decided and sent is ClickHouse's ``alert_deliveries``
    (ReplacingMergeTree keyed by client, period, kind, threshold, channel): written *before*
    the first delivery attempt and read before every decision, so restarts, redelivered Kafka
    batches, the sweep and a second instance all find an alert already fired. A jump past
    several thresholds sends one message naming the highest and listing the rest, which are
    recorded as covered. A budget change re-evaluates against the new budget; thresholds are
    keyed by fraction, so one already sent this period is not sent again.

Forecast
    Linear run-rate over the month so far (spend × month length / time elapsed), from the
    third day on; alerts once per period when the projection exceeds the budget while
    actual spend does not (a threshold message sent at the same moment states it instead).

Delivery (``delivery.py``)
    One asyncio task per (alert, channel), apprise underneath (Slack, mailto/mailtos, Teams,
    Discord, json:// …); rounds of retries with exponential backoff, every attempt recorded
    (attempts, last error); a failed round is resumed by the sweep until ``max_attempts``,
    then marked ``failed`` and left listed. A crash between a receiver accepting a message and
    our ``delivered`` write can repeat that one message; nothing is ever dropped silently.

API
    ``GET /v1/clients/{client_id}/alerts`` (admin, or the client's own key) and ``/healthz``.
"""

"""A stream of usage spread over several clients, sent while a test interrupts the pipeline, and the check that
every event of it was counted exactly once (the rebalance and scale-out scenarios share it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tests.e2e.conftest import Pipeline, event, new_client_id, wait_until


def spread_stream(prefix: str, model: str, clients: int = 8, batches: int = 40,
                  per_batch: int = 100) -> tuple[list[str], list[list[dict[str, Any]]]]:
    """``batches`` requests of ``per_batch`` events over ``clients`` new clients (enough to reach every partition)."""
    ids = [new_client_id(prefix) for _ in range(clients)]
    return ids, [[event(ids[(b + i) % len(ids)], f"{b}-{i}", model=model, input_tokens=1_000 + b * 7 + i)
                  for i in range(per_batch)] for b in range(batches)]


def send_while(pipeline: Pipeline, batches: list[list[dict[str, Any]]], counted: Callable[[], int],
               interrupt: Callable[[], None]) -> None:
    """Send the batches (one every 150 ms) and call ``interrupt`` once 300 events are counted."""
    done = threading.Event()

    def send_all() -> None:
        for batch in batches:
            assert pipeline.send(batch).status_code == 202
            time.sleep(0.15)
        done.set()

    sender = threading.Thread(target=send_all)
    sender.start()
    wait_until(lambda: counted() > 300, 60, "the first events counted")
    interrupt()
    sender.join(timeout=180)
    assert done.is_set()


def assert_each_counted_once(pipeline: Pipeline, period: str, clients: list[str],
                             batches: list[list[dict[str, Any]]]) -> None:
    """Each client's invoice line holds every one of its events once, at 1.00 per million input tokens."""
    for client in clients:
        mine = [e for batch in batches for e in batch if e["client_id"] == client]
        invoice = pipeline.wait_for_events(client, period, len(mine), timeout=120)
        (line,) = invoice["lines"]
        assert line["events"] == len(mine), client
        assert Decimal(line["amount_exact"]) == sum(Decimal(e["input_tokens"]) for e in mine) / 10**6

"""Issuing on the whole pipeline as real processes: the caught-up rule, late usage, a SIGKILL mid-issue."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.e2e.conftest import Pipeline, event, new_client_id, wait_until

pytestmark = pytest.mark.integration

OCTOBER, NOVEMBER, SEPTEMBER = "2026-10", "2026-11", "2026-09"


def test_events_sent_just_before_the_issue_are_on_it_and_late_ones_adjust_the_next_draft(pipeline: Pipeline) -> None:
    client = new_client_id("cutoff")
    pipeline.add_price("openai", "gpt-cutoff", "2.50")
    events = [event(client, model="gpt-cutoff", input_tokens=10_000, timestamp=f"2026-10-{1 + i % 28:02d}T10:00:00Z")
              for i in range(300)]
    pricing = pipeline.services["pricing"]
    pricing.stop()  # the events wait in Kafka, received but not yet priced
    try:
        assert pipeline.send(events).status_code == 202

        def issue() -> httpx.Response:
            with pipeline.http("invoicing") as http:
                return http.post(f"/v1/clients/{client}/invoices/{OCTOBER}/issue", timeout=120)

        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(issue)
            time.sleep(3)
            assert not pending.done(), pending.result().text  # it waits for the pipeline instead of freezing
            pricing.start()
            issued = pending.result()
    finally:
        if pricing.process is None or pricing.process.poll() is not None:
            pricing.start()
    assert issued.status_code == 200, issued.text
    invoice = issued.json()
    assert invoice["status"] == "issued" and invoice["number"]
    assert sum(line["events"] for line in invoice["lines"]) == 300  # all of them, none left for an adjustment
    assert invoice["base_cost"] == "7.50"  # 3,000,000 tokens @ $2.50/1M
    issued_csv = pipeline.api("invoicing").get(f"/v1/clients/{client}/invoices/{OCTOBER}?format=csv").content
    november = pipeline.invoice_if_any(client, NOVEMBER)
    assert november is None or [line for line in november["lines"] if line["kind"] == "adjustment"] == []

    # A late October event: the issued invoice does not move; November's draft carries it.
    assert pipeline.send(event(client, model="gpt-cutoff", input_tokens=120_000,
                               timestamp="2026-10-30T10:00:00Z")).status_code == 202
    draft = wait_until(lambda: _with_adjustment(pipeline.invoice_if_any(client, NOVEMBER)), 60, "the adjustment")
    [adjustment] = draft["lines"]
    assert (adjustment["kind"], adjustment["service_period"], adjustment["amount"]) == ("adjustment", OCTOBER, "0.30")
    assert adjustment["description"] == (
        "Usage adjustment for October 2026 — openai gpt-cutoff: 120,000 tokens @ $2.50/1M = $0.30")
    assert (draft["base_cost"], draft["markup"], draft["total"]) == ("0.30", "0.08", "0.38")  # default 25% markup
    again = pipeline.api("invoicing").get(f"/v1/clients/{client}/invoices/{OCTOBER}")
    assert again.content == issued.content
    assert pipeline.api("invoicing").get(f"/v1/clients/{client}/invoices/{OCTOBER}?format=csv").content == issued_csv


def _with_adjustment(invoice: dict | None) -> dict | None:
    return invoice if invoice and any(line["kind"] == "adjustment" for line in invoice["lines"]) else None


def test_an_invoicing_process_killed_while_issuing_leaves_no_gap_and_no_duplicate(pipeline: Pipeline) -> None:
    clients = [new_client_id("kill") for _ in range(60)]
    pipeline.add_price("openai", "gpt-kill", "2.50")
    assert pipeline.send([event(c, model="gpt-kill", input_tokens=1_000_000, timestamp="2026-09-10T10:00:00Z")
                          for c in clients]).status_code == 202
    wait_until(lambda: _all_counted(pipeline, clients), 90, "every client's September usage")

    invoicing = pipeline.services["invoicing"]
    url, key = invoicing.url, pipeline.admin_key

    def issue(client: str) -> int:
        try:
            with httpx.Client(base_url=url or "", headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
                return http.post(f"/v1/clients/{client}/invoices/{SEPTEMBER}/issue").status_code
        except httpx.HTTPError:
            return 0  # the process died under this request

    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = [pool.submit(issue, client) for client in clients]
        time.sleep(0.4)
        invoicing.kill()  # SIGKILL, in the middle of the issuing
    statuses = [reply.result() for reply in replies]
    assert 0 in statuses, "the kill came after every issue had finished: nothing was tested"
    invoicing.start()

    for client in clients:  # issuing again is harmless: the issued ones come back as they were
        assert pipeline.api("invoicing").post(f"/v1/clients/{client}/invoices/{SEPTEMBER}/issue").status_code == 200
    listing = pipeline.api("invoicing").get("/v1/invoices", params={"kind": "invoice"}).json()
    numbers = sorted(int(d["number"].rsplit("-", 1)[1]) for d in listing)
    assert numbers == list(range(1, len(listing) + 1))  # no gap, no duplicate, across the whole series
    september = [d for d in listing if d["period"] == SEPTEMBER]
    assert sorted(d["client_id"] for d in september) == sorted(clients)  # one invoice each


def _all_counted(pipeline: Pipeline, clients: list[str]) -> bool:
    summaries = pipeline.api("invoicing").get(f"/v1/invoices/{SEPTEMBER}").json()
    counted = {s["client_id"] for s in summaries if s["events"] >= 1}
    return set(clients) <= counted

"""Budget alerts end to end: ingest → Kafka → pricing → aggregator → ClickHouse → alerts → receivers.

Real receivers run in the test process: an HTTP server recording Slack-webhook-style POSTs
(apprise's generic ``json://`` webhook with its payload mapped to Slack's ``{"text": ...}``,
since ``hooks.slack.com`` is out of reach offline) and an SMTP server (aiosmtpd) for
``mailto://`` in plain, no-TLS mode. Prices come from a pricing override ($1 per million
tokens) so every spend is exact; the alerts service runs with its clock pinned (``tests/e2e/pinned_alerts.py``) to
2026-10-20 12:00 UTC (19.5 of October's 31 days gone: a linear projection is spend × 31/19.5).
"""

from __future__ import annotations

import email
import json
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from deploy.local_clickhouse import free_port
from deploy.services import ServiceProcess
from services.alerts.ownership import partition_for
from tests.e2e.conftest import (
    ACME_KEY,
    INGEST_KEY,
    Pipeline,
    event,
    new_client_id,
    pipeline_env,
    start_pipeline,
    wait_until,
)

pytestmark = pytest.mark.integration

NOW = "2026-10-20T12:00:00Z"
MODEL = "gpt-alerts"
SERVICES = ("pricing", "aggregator", "invoicing", "alerts", "ingest")
ALERTS_ENV = {
    "TEST_ALERTS_NOW": NOW,
    "ALERTS_SWEEP_SECONDS": "1",
    "ALERTS_RETRY_BASE_SECONDS": "0.2",
    "ALERTS_MAX_ATTEMPTS": "5",
    "ALERTS_SEND_TIMEOUT_SECONDS": "5",
    "ALERTS_SENDING_LEASE_SECONDS": "30",
    "ALERTS_SHUTDOWN_GRACE_SECONDS": "5",
}


# -- receivers -------------------------------------------------------------------------------------


@dataclass
class Post:
    at: float
    path: str
    body: dict[str, Any]
    status: int

    @property
    def text(self) -> str:
        return str(self.body.get("text", ""))


@dataclass
class WebhookReceiver:
    """Records every POST; ``fail[path] = n`` answers the first n POSTs to ``path`` with 500 (-1: always)."""

    posts: list[Post] = field(default_factory=list)
    fail: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def start(self) -> ThreadingHTTPServer:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                path = self.path.split("?")[0]
                with receiver.lock:
                    left = receiver.fail.get(path, 0)
                    status = 500 if left != 0 else 200
                    if left > 0:
                        receiver.fail[path] = left - 1
                    receiver.posts.append(Post(time.time(), path, json.loads(body or b"{}"), status))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def url(self, path: str) -> str:
        """A Slack-style webhook through apprise's json:// plugin: the body becomes ``{"text": ...}``."""
        return f"json://127.0.0.1:{self.port}{path}?:message=text&:title=&:type=&:version=&:attachments="

    def accepted(self, path: str) -> list[Post]:
        with self.lock:
            return [p for p in self.posts if p.path == path and p.status == 200]

    def all_posts(self, path: str) -> list[Post]:
        with self.lock:
            return [p for p in self.posts if p.path == path]


@dataclass
class Mail:
    at: float
    to: list[str]
    message: Message

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        for part in self.message.walk():
            if part.get_content_type() == "text/plain":
                payload = part.get_payload(decode=True)
                return payload.decode() if isinstance(payload, bytes) else str(payload)
        return ""


@dataclass
class MailReceiver:
    mails: list[Mail] = field(default_factory=list)
    port: int = 0

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802 - aiosmtpd
        self.mails.append(Mail(time.time(), list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        return "250 OK"

    def url(self, to: str) -> str:
        return f"mailto://127.0.0.1:{self.port}?mode=insecure&from=alerts@tokentally.test&to={to}"

    def to(self, address: str) -> list[Mail]:
        return [m for m in list(self.mails) if address in m.to]


@dataclass
class AlertsRig:
    pipeline: Pipeline
    slack: WebhookReceiver
    mail: MailReceiver
    log_dir: Path

    @property
    def alerts(self) -> ServiceProcess:
        return self.pipeline.services["alerts"]

    def restart_alerts(self, **env: str) -> None:
        self.alerts.stop()
        self.alerts.env = {**self.alerts.env, **env}
        self.alerts.start()

    def watch(self, client: str, budget: str, thresholds: list[str], *, mail: bool = True,
              slack_url: str | None = None) -> tuple[str, str]:
        """Give ``client`` a budget with a Slack-style and (optionally) an email target: (path, address)."""
        path, address = f"/services/{client}", f"{client}@agency.test"
        notify = [slack_url or self.slack.url(path)] + ([self.mail.url(address)] if mail else [])
        self.pipeline.put_client(client, monthly_budget=budget, alert_thresholds=thresholds, notify=notify,
                                 budget_basis="cost")  # these scenarios count the budget at cost
        return path, address

    def spend(self, client: str, dollars: int | str, *, timestamp: str = "2026-10-03T10:00:00Z") -> float:
        """Send one call costing exactly ``dollars`` (at $1 per million tokens); returns when it was sent."""
        sent = time.time()
        reply = self.pipeline.send([event(client, model=MODEL, timestamp=timestamp,
                                          input_tokens=int(Decimal(dollars) * 1_000_000))])
        assert reply.status_code == 202, reply.text
        return sent

    def spend_and_settle(self, client: str, dollars: int | str, events: int, period: str = "2026-10",
                         **kwargs: str) -> None:
        """Spend, then wait until the invoice counts ``events`` events (the totals are in ClickHouse)."""
        self.spend(client, dollars, **kwargs)
        self.pipeline.wait_for_events(client, period, events, timeout=30)

    def alert_records(self, client: str, key: str | None = None, **params: str) -> list[dict[str, Any]]:
        """``GET /v1/clients/{client}/alerts`` with ``key`` (admin's by default)."""
        http = self.pipeline.api("alerts") if key is None else self.pipeline.http("alerts", key)
        reply = http.get(f"/v1/clients/{client}/alerts", params=params)
        if key is not None:
            http.close()
        assert reply.status_code == 200, reply.text
        return reply.json()  # type: ignore[no-any-return]


def summary(records: list[dict[str, Any]]) -> set[tuple[str, str, str, str]]:
    """(kind, threshold, channel scheme, status) of each record."""
    return {(r["kind"], r["threshold"], r["channel"].split(":")[0], r["status"]) for r in records}


def quiet_for(seconds: float) -> None:
    """Let a few sweeps (every second in these tests) go by."""
    time.sleep(seconds)


@pytest.fixture(scope="module")
def rig(kafka_bootstrap: str, clickhouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlertsRig]:
    slack = WebhookReceiver()
    http_server = slack.start()
    mail = MailReceiver(port=free_port())
    smtp = Controller(mail, hostname="127.0.0.1", port=mail.port)
    smtp.start()
    env = {**pipeline_env(kafka_bootstrap, clickhouse_url), **ALERTS_ENV}
    log_dir = tmp_path_factory.mktemp("alerts-logs")
    pipeline = start_pipeline(env, log_dir, SERVICES, modules={"alerts": "tests.e2e.pinned_alerts"})
    try:
        pipeline.add_price("openai", MODEL, "1.00")
        yield AlertsRig(pipeline, slack, mail, log_dir)
    finally:
        pipeline.close()
        smtp.stop()
        http_server.shutdown()


# -- scenarios ---------------------------------------------------------------------------------------


def test_80_and_100_percent_send_one_message_each_and_a_restart_repeats_nothing(rig: AlertsRig) -> None:
    client = new_client_id("cross")
    path, address = rig.watch(client, "100.00", ["0.8", "1.0"])

    rig.spend_and_settle(client, 50, 1)  # 50%: below every threshold; projected $79.49, under budget
    quiet_for(1.5)
    assert rig.slack.all_posts(path) == [] and rig.mail.to(address) == []

    rig.spend(client, 35)  # 85%
    (first,) = wait_until(lambda: rig.slack.accepted(path), 30, "the 80% Slack message")
    (first_mail,) = wait_until(lambda: rig.mail.to(address), 30, "the 80% email")
    assert first.text.startswith(f"{client.title()} is at 85% of its $100.00 AI budget for October 2026 ($85.00)")
    assert "past the 80% alert; on track for $135.13 by month end (over budget)" in first.text
    assert f"Top models: openai {MODEL} $85.00." in first.text
    assert first_mail.text.strip() == first.text
    assert first_mail.subject == f"{client.title()} is at 85% of its AI budget for October 2026"

    rig.spend(client, 16)  # 101%
    wait_until(lambda: len(rig.slack.accepted(path)) == 2 and len(rig.mail.to(address)) == 2, 30,
               "the 100% messages")
    second = rig.slack.accepted(path)[1]
    assert "at 101% of its $100.00 AI budget for October 2026 ($101.00), past the 100% alert" in second.text

    quiet_for(2.5)  # sweeps and further spend updates find both already sent
    assert len(rig.slack.all_posts(path)) == 2 and len(rig.mail.to(address)) == 2

    rig.restart_alerts()
    rig.spend_and_settle(client, 4, 4)  # 105%: a fresh spend update for the restarted service
    quiet_for(2.5)
    assert len(rig.slack.all_posts(path)) == 2 and len(rig.mail.to(address)) == 2

    records = rig.alert_records(client)
    assert summary(records) == {
        ("threshold", "0.8", "json", "delivered"), ("threshold", "0.8", "mailto", "delivered"),
        ("threshold", "1", "json", "delivered"), ("threshold", "1", "mailto", "delivered"),
        # the 80% message stated the over-budget projection, so no separate forecast went out
        ("forecast", "1", "json", "covered"), ("forecast", "1", "mailto", "covered"),
    }
    assert len(records) == 6
    assert all(r["attempts"] == 1 for r in records if r["status"] == "delivered")


def test_a_jump_from_10_to_120_percent_sends_one_message_naming_the_highest(rig: AlertsRig) -> None:
    client = new_client_id("jump")
    path, address = rig.watch(client, "100.00", ["0.5", "0.8", "1.0"])
    rig.spend_and_settle(client, 10, 1)
    quiet_for(1.5)
    assert rig.slack.all_posts(path) == []

    rig.spend(client, 110)
    wait_until(lambda: rig.slack.accepted(path) and rig.mail.to(address), 30, "the jump's messages")
    quiet_for(2.5)

    (post,) = rig.slack.all_posts(path)
    assert len(rig.mail.to(address)) == 1
    assert "is at 120% of its $100.00 AI budget for October 2026 ($120.00), past the 50%, 80% and 100% alerts" \
        in post.text
    by_threshold = {(r["threshold"], r["status"], r["covered_by"]) for r in rig.alert_records(client)
                    if r["channel"].startswith("json")}
    assert by_threshold == {("1", "delivered", None), ("0.5", "covered", "1"), ("0.8", "covered", "1")}


def test_the_forecast_alert_fires_before_the_budget_is_reached(rig: AlertsRig) -> None:
    client = new_client_id("forecast")
    path, _ = rig.watch(client, "100.00", ["1.0"], mail=False)

    rig.spend(client, 70)  # 70% on day 19.5 of 31: on track for $111.28
    (warning,) = wait_until(lambda: rig.slack.accepted(path), 30, "the forecast message")
    assert warning.text.startswith(
        f"{client.title()} is on track to exceed its $100.00 AI budget for October 2026: $70.00 so far (70%), "
        "$111.28 projected by month end."
    )

    rig.spend_and_settle(client, 20, 2)  # 90%: still on track to exceed, already said
    quiet_for(1.5)
    assert len(rig.slack.all_posts(path)) == 1

    rig.spend(client, 15)  # 105%
    wait_until(lambda: len(rig.slack.accepted(path)) == 2, 30, "the 100% message")
    quiet_for(1.5)
    posts = rig.slack.all_posts(path)
    assert len(posts) == 2 and "past the 100% alert" in posts[1].text
    (forecast,) = [r for r in rig.alert_records(client) if r["kind"] == "forecast"]
    assert forecast["status"] == "delivered"
    assert Decimal(forecast["spend_usd"]) == 70 < Decimal(forecast["budget_usd"])
    assert forecast["projected_usd"] == "111.28"


def test_a_receiver_failing_twice_gets_the_message_once_and_a_dead_one_blocks_nobody(rig: AlertsRig) -> None:
    flaky, dead, healthy = new_client_id("flaky"), new_client_id("dead"), new_client_id("healthy")
    flaky_path, _ = rig.watch(flaky, "10.00", ["1.0"], mail=False)
    dead_path, _ = rig.watch(dead, "10.00", ["1.0"], mail=False)
    healthy_path, _ = rig.watch(healthy, "10.00", ["1.0"], mail=False)
    rig.slack.fail[flaky_path] = 2
    rig.slack.fail[dead_path] = -1

    sent = time.time()
    assert rig.pipeline.send([event(c, model=MODEL, input_tokens=12_000_000) for c in (dead, flaky, healthy)]) \
        .status_code == 202

    (ok,) = wait_until(lambda: rig.slack.accepted(healthy_path), 30, "the healthy client's message")
    assert ok.at - sent < 10
    wait_until(lambda: rig.slack.accepted(flaky_path), 30, "the flaky receiver's message")
    (flaky_record,) = wait_until(
        lambda: [r for r in rig.alert_records(flaky) if r["status"] == "delivered"], 10, "flaky delivered")
    assert flaky_record["attempts"] == 3 and "500" in flaky_record["last_error"]
    assert [p.status for p in rig.slack.all_posts(flaky_path)] == [500, 500, 200]

    (dead_record,) = wait_until(
        lambda: [r for r in rig.alert_records(dead) if r["status"] == "failed"], 30, "the dead receiver to fail")
    assert dead_record["attempts"] == 5  # ALERTS_MAX_ATTEMPTS: two rounds (3 + 2), then it gives up
    assert "error=500" in dead_record["last_error"]
    assert len(rig.slack.all_posts(dead_path)) == 5
    quiet_for(1.5)
    assert len(rig.slack.accepted(flaky_path)) == 1 and len(rig.slack.all_posts(dead_path)) == 5


def test_a_budget_change_mid_month_reevaluates_without_resending(rig: AlertsRig) -> None:
    client = new_client_id("rebudget")
    path, _ = rig.watch(client, "100.00", ["0.5", "0.8", "1.0"], mail=False)
    rig.spend(client, 60)
    (half,) = wait_until(lambda: rig.slack.accepted(path), 30, "the 50% message")
    assert "at 60% of its $100.00 AI budget" in half.text

    rig.watch(client, "70.00", ["0.5", "0.8", "1.0"], mail=False)  # no spend update: the sweep notices
    wait_until(lambda: len(rig.slack.accepted(path)) == 2, 30, "the 80% message against the new budget")
    assert "at 85% of its $70.00 AI budget for October 2026 ($60.00), past the 80% alert" in \
        rig.slack.accepted(path)[1].text

    rig.watch(client, "200.00", ["0.5", "0.8", "1.0"], mail=False)
    rig.spend_and_settle(client, 50, 2)  # $110 of $200 = 55%: 50% was sent already this month
    quiet_for(2)
    assert len(rig.slack.all_posts(path)) == 2
    assert {(r["threshold"], r["status"]) for r in rig.alert_records(client)} == {
        ("0.5", "delivered"), ("0.8", "delivered"), ("1", "covered"),  # (1 = the forecast, told at 80%)
    }


def test_api_lists_alerts_to_admin_and_the_clients_own_key_with_channels_masked(rig: AlertsRig) -> None:
    secret = uuid.uuid4().hex
    path = "/services/acme"
    rig.pipeline.put_client("acme", monthly_budget="5.00", alert_thresholds=["1.0"], budget_basis="cost",
                            notify=[f"json://user:{secret}@127.0.0.1:{rig.slack.port}{path}/{secret}"])
    rig.spend("acme", 6)
    wait_until(lambda: rig.slack.accepted(f"{path}/{secret}"), 30, "acme's message")

    (record,) = wait_until(lambda: [r for r in rig.alert_records("acme", ACME_KEY) if r["status"] == "delivered"],
                           10, "acme's record")
    assert record["channel"] == "json://***@127.0.0.1/***"
    assert record["period"] == "2026-10" and record["kind"] == "threshold" and record["threshold"] == "1"
    assert record["delivered_at"] and record["created_at"]
    assert secret not in json.dumps(rig.alert_records("acme"))
    assert rig.alert_records("acme", period="2026-09") == []

    with rig.pipeline.http("alerts", ACME_KEY) as acme:
        assert acme.get("/v1/clients/globex/alerts").status_code == 403
        bad = acme.get("/v1/clients/acme/alerts", params={"period": "2026-13"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "period"
    with rig.pipeline.http("alerts", INGEST_KEY) as ingest:
        assert ingest.get("/v1/clients/acme/alerts").status_code == 403
    with rig.pipeline.http("alerts", None) as anonymous:
        assert anonymous.get("/v1/clients/acme/alerts").status_code == 401


def test_two_instances_split_the_clients_and_send_each_alert_once(rig: AlertsRig) -> None:
    partitions = int(rig.pipeline.env.get("KAFKA_TOPIC_PARTITIONS", "4"))
    clients: list[str] = []
    while len(clients) < 2 * partitions:  # two clients on every partition, so both instances work
        candidate = new_client_id("pair")
        if sum(partition_for(c, partitions) == partition_for(candidate, partitions) for c in clients) < 2:
            clients.append(candidate)
    paths = {c: rig.watch(c, "10.00", ["1.0"], mail=False)[0] for c in clients}

    second = ServiceProcess("alerts", {**rig.alerts.env, "ALERTS_PORT": str(free_port())},
                            rig.log_dir / "alerts-2.log", module=rig.alerts.module)
    second.start()
    try:
        wait_until(lambda: _owns_some(second.log_path), 30, "the second instance to get partitions")
        time.sleep(1)  # and the first one to settle on the rest
        assert rig.pipeline.send([event(c, model=MODEL, input_tokens=11_000_000) for c in clients]).status_code == 202
        wait_until(lambda: all(rig.slack.accepted(p) for p in paths.values()), 30, "every client's message")
        quiet_for(2.5)
        assert {c: len(rig.slack.all_posts(p)) for c, p in paths.items()} == {c: 1 for c in clients}
        instances = {r["instance"] for c in clients for r in rig.alert_records(c)}
        assert len(instances) == 2, instances
    finally:
        second.stop()
    quiet_for(2)  # the first instance takes every partition back and sweeps them: still nothing new
    assert {c: len(rig.slack.all_posts(p)) for c, p in paths.items()} == {c: 1 for c in clients}


def _owns_some(log_path: Path) -> bool:
    lines = [line for line in log_path.read_text().splitlines() if "owning partitions" in line]
    return bool(lines) and "owning partitions []" not in lines[-1]


def test_ingest_to_slack_delay(rig: AlertsRig) -> None:
    """Measure: an event that crosses a budget is sent to ingest; how long until the POST lands."""
    clients = [new_client_id("delay") for _ in range(20)]
    paths = {c: rig.watch(c, "1.00", ["1.0"], mail=False)[0] for c in clients}
    sent: dict[str, float] = {}
    for client in clients:
        sent[client] = rig.spend(client, 1)
        time.sleep(0.25)
    wait_until(lambda: all(rig.slack.accepted(p) for p in paths.values()), 30, "all 20 messages")
    arrived = {c: rig.slack.accepted(paths[c])[0].at for c in clients}
    decided = {c: datetime.fromisoformat(rig.alert_records(c)[0]["created_at"]).timestamp() for c in clients}
    delays = sorted(arrived[c] - sent[c] for c in clients)
    to_decision = sorted(decided[c] - sent[c] for c in clients)  # ingest, pricing, aggregator, alerts' reads
    to_post = sorted(arrived[c] - decided[c] for c in clients)  # record, apprise, HTTP
    triggers = [line.rsplit("trigger: ", 1)[-1].rstrip(")") for line in rig.alerts.log_path.read_text().splitlines()
                if "delay-" in line and "trigger:" in line]

    def stats(values: list[float]) -> dict[str, float]:
        return {"median_s": round(statistics.median(values), 3), "worst_s": round(max(values), 3),
                "best_s": round(min(values), 3)}

    report = {"alerts": len(delays), **stats(delays), "ingest_to_decision": stats(to_decision),
              "decision_to_post": stats(to_post), "triggers": {t: triggers.count(t) for t in set(triggers)}}
    print(f"\ningest → Slack POST delay over {len(delays)} alerts: {json.dumps(report)}")
    (rig.log_dir / "alert-delay.json").write_text(json.dumps(report, indent=2))
    assert delays[-1] < 10


def test_a_new_month_starts_a_new_period(rig: AlertsRig) -> None:
    client = new_client_id("month")
    path, address = rig.watch(client, "100.00", ["0.8"])
    rig.spend(client, 90)
    wait_until(lambda: rig.slack.accepted(path) and rig.mail.to(address), 30, "October's message")

    rig.restart_alerts(TEST_ALERTS_NOW="2026-11-10T12:00:00Z")
    try:
        quiet_for(1.5)
        assert len(rig.slack.all_posts(path)) == 1  # October is not November's business
        rig.spend(client, 85, timestamp="2026-11-05T09:00:00Z")
        wait_until(lambda: len(rig.slack.accepted(path)) == 2 and len(rig.mail.to(address)) == 2, 30,
                   "November's message")
        november = rig.slack.accepted(path)[1]
        assert "is at 85% of its $100.00 AI budget for November 2026 ($85.00), past the 80% alert" in november.text
        quiet_for(1.5)
        assert len(rig.slack.all_posts(path)) == 2 and len(rig.mail.to(address)) == 2
        assert {(r["period"], r["kind"], r["status"]) for r in rig.alert_records(client)
                if r["channel"].startswith("json")} == {
            ("2026-10", "threshold", "delivered"), ("2026-10", "forecast", "covered"),
            ("2026-11", "threshold", "delivered"), ("2026-11", "forecast", "covered"),
        }
    finally:
        rig.restart_alerts(TEST_ALERTS_NOW=NOW)

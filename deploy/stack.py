"""The whole TokenTally stack on this machine: ``python -m deploy.stack start|stop|status``.

``start`` brings up Apache Kafka, ClickHouse and PostgreSQL (unless ``KAFKA_BOOTSTRAP_SERVERS`` /
``CLICKHOUSE_URL`` / ``DATABASE_URL`` point at existing ones), then every service, loads demo data once,
and prints the URLs and the local API keys. Everything runs in the background and
keeps its data in ``.local/``; ``stop`` stops it all, and a later ``start`` finds the
data as it was.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import time

from deploy.local_clickhouse import PROJECT_ROOT, LocalClickHouse, LocalServerError, process_is_alive
from deploy.local_kafka import LocalKafka
from deploy.local_postgres import LocalPostgres, ensure_database
from deploy.services import HTTP_PORT_VARIABLES, ServiceProcess

LOCAL = PROJECT_ROOT / ".local"
STATE_FILE = LOCAL / "stack.json"
KEYS_FILE = LOCAL / "api-keys.json"
SERVICE_ORDER = ("pricing", "aggregator", "invoicing", "alerts", "ingest", "dashboard")
DEFAULT_PORTS = {"INGEST_PORT": "8000", "PRICING_PORT": "8001", "INVOICING_PORT": "8002", "ALERTS_PORT": "8003",
                 "AGGREGATOR_PORT": "8004", "DASHBOARD_PORT": "8005"}
DASHBOARD_SECRET_FILE = LOCAL / "dashboard-secret"
DEFAULT_REPLICAS = {"pricing": 2, "aggregator": 2}
"""Instances per service. Two of each consumer on two cores: while one waits (for Kafka's acks,
for ClickHouse to take an insert), the other works on its next batch. Measured with
`make bench` on 2026-12-02: one of each 20.7k (HTTP) and 32.3k (raw topic) events/s, two
of each 25.5k and 37.8k (BENCHMARKS.md, "Compact priced messages,
two aggregators"). Each pair splits its topics' partitions in one consumer group; a rebalance
waits for the aggregator's batch in flight (``services/aggregator/ownership.py``), and a
batch pricing had not committed is priced again and dropped as a duplicate by the aggregators.
``TOKENTALLY_REPLICAS="pricing=1,aggregator=1"`` runs one of each."""


def replicas() -> dict[str, int]:
    """``DEFAULT_REPLICAS``, changed by ``TOKENTALLY_REPLICAS`` (``service=count,…``) if set."""
    counts = dict(DEFAULT_REPLICAS)
    for item in filter(None, os.environ.get("TOKENTALLY_REPLICAS", "").split(",")):
        name, _, count = item.partition("=")
        counts[name.strip()] = max(1, int(count))
    return counts


def instances(name: str, env: dict[str, str], counts: dict[str, int]) -> list[tuple[str, dict[str, str]]]:
    """``(key, env)`` of each instance of a service: ``aggregator``, ``aggregator-2``… each with its own HTTP port."""
    variable = HTTP_PORT_VARIABLES.get(name)
    found = []
    for number in range(1, counts.get(name, 1) + 1):
        key = name if number == 1 else f"{name}-{number}"
        port = {variable: str(int(env[variable]) + 100 * (number - 1))} if variable and number > 1 else {}
        found.append((key, {**env, **port}))
    return found


def available_services() -> list[str]:
    return [name for name in SERVICE_ORDER if (PROJECT_ROOT / "services" / name / "__main__.py").exists()]


def local_keys() -> dict[str, str]:
    """API keys for local use, made once and kept in .local/api-keys.json."""
    if KEYS_FILE.exists():
        return json.loads(KEYS_FILE.read_text())  # type: ignore[no-any-return]
    keys = {scope: f"tt_{scope.replace(':', '_')}_{secrets.token_urlsafe(18)}"
            for scope in ("admin", "ingest", "client:acme")}
    LOCAL.mkdir(parents=True, exist_ok=True)
    KEYS_FILE.write_text(json.dumps(keys, indent=2))
    KEYS_FILE.chmod(0o600)
    return keys


def dashboard_secret() -> str:
    """The dashboard's signing secret, made once: sessions and portal links survive a restart."""
    if not DASHBOARD_SECRET_FILE.exists():
        LOCAL.mkdir(parents=True, exist_ok=True)
        DASHBOARD_SECRET_FILE.write_text(secrets.token_urlsafe(32))
        DASHBOARD_SECRET_FILE.chmod(0o600)
    return DASHBOARD_SECRET_FILE.read_text().strip()


def service_env(bootstrap: str, clickhouse_url: str, keys: dict[str, str], database_url: str = "") -> dict[str, str]:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "CLICKHOUSE_URL": clickhouse_url,
        **({"DATABASE_URL": database_url} if database_url else {}),
        "TOKENTALLY_API_KEYS": json.dumps([{"key": key, "scope": scope} for scope, key in keys.items()]),
        "DASHBOARD_SECRET_KEY": os.environ.get("DASHBOARD_SECRET_KEY") or dashboard_secret(),
    }
    for variable, default in DEFAULT_PORTS.items():
        env[variable] = os.environ.get(variable, default)
    return env


def start() -> int:
    LOCAL.mkdir(parents=True, exist_ok=True)
    if STATE_FILE.exists() and _running_services():
        print("TokenTally is already running (deploy/run.sh stop first).")
        return 1
    state: dict[str, object] = {"services": {}}
    started = time.monotonic()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        kafka = LocalKafka(LOCAL / "kafka", port=int(os.environ.get("TOKENTALLY_KAFKA_PORT", "9092")))
        kafka.start(detach=True)
        bootstrap = kafka.bootstrap_servers
        state["kafka_dir"] = str(kafka.data_dir)
        print(f"Kafka       {bootstrap}  ({time.monotonic() - started:.1f}s)")
    clickhouse_url = os.environ.get("CLICKHOUSE_URL")
    if not clickhouse_url:
        clickhouse = LocalClickHouse(LOCAL / "clickhouse", port=int(os.environ.get("TOKENTALLY_CLICKHOUSE_PORT", "8123")))
        clickhouse.start()
        clickhouse_url = f"{clickhouse.url}/tokentally"
        state["clickhouse_dir"] = str(clickhouse.data_dir)
        print(f"ClickHouse  http://127.0.0.1:{clickhouse.port}  (database tokentally)")
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        postgres = LocalPostgres(LOCAL / "postgres", port=int(os.environ.get("TOKENTALLY_POSTGRES_PORT", "5432")))
        postgres.start()
        database_url = ensure_database(postgres.url, "tokentally")
        state["postgres_dir"] = str(postgres.data_dir)
        print(f"PostgreSQL  {database_url}")
    keys = local_keys()
    env = service_env(bootstrap, clickhouse_url, keys, database_url)
    services: dict[str, int] = {}
    state["services"] = services
    try:
        counts = replicas()
        for name in available_services():
            for key, instance_env in instances(name, env, counts):
                service = ServiceProcess(name, instance_env, LOCAL / "logs" / f"{key}.log")
                service.start()
                services[key] = service.pid or 0
                STATE_FILE.write_text(json.dumps(state, indent=2))
                print(f"{key:<12} {service.url or '(Kafka consumer)'}  pid {service.pid}")
    except LocalServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        stop()
        return 1
    print(f"\nAll up in {time.monotonic() - started:.1f}s. Logs: .local/logs/. API keys (also in {KEYS_FILE}):")
    for scope, key in keys.items():
        print(f"  {scope:<12} {key}")
    from deploy.demo import load_demo_data

    load_demo_data(env, keys)
    if "dashboard" in services:
        from services.dashboard.sessions import PortalLinks
        from services.dashboard.settings import DashboardSettings

        days = DashboardSettings().portal_days
        dashboard = f"http://127.0.0.1:{env['DASHBOARD_PORT']}"
        link = PortalLinks(env["DASHBOARD_SECRET_KEY"], days * 86_400).token("acme")
        print(f"\nDashboard: {dashboard}  (sign in with the admin key above)")
        print(f"  Acme's read-only portal, valid {days} days: {dashboard}/portal/{link}")
    print("\nStop everything with: make stop")
    return 0


def _running_services() -> dict[str, int]:
    state = json.loads(STATE_FILE.read_text())
    return {name: pid for name, pid in state.get("services", {}).items() if pid and process_is_alive(pid)}


def stop() -> int:
    if STATE_FILE.exists():
        state = json.loads(STATE_FILE.read_text())
        for name, pid in reversed(list(state.get("services", {}).items())):  # in reverse order of start
            if pid and process_is_alive(pid):
                os.kill(pid, signal.SIGTERM)
                _wait_gone(pid, 20)
                print(f"stopped {name}")
        STATE_FILE.unlink()
    if (LOCAL / "kafka").exists():
        LocalKafka(LOCAL / "kafka").stop()
        print("stopped Kafka")
    if (LOCAL / "clickhouse").exists():
        LocalClickHouse(LOCAL / "clickhouse").stop()
        print("stopped ClickHouse")
    if (LOCAL / "postgres").exists():
        LocalPostgres(LOCAL / "postgres").stop()
        print("stopped PostgreSQL")
    return 0


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while process_is_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if process_is_alive(pid):
        os.kill(pid, signal.SIGKILL)


def status() -> int:
    running = _running_services() if STATE_FILE.exists() else {}
    started = json.loads(STATE_FILE.read_text()).get("services", {}) if STATE_FILE.exists() else {}
    for name in [*started, *(n for n in SERVICE_ORDER if n not in started)]:
        print(f"{name:<12} {'running, pid ' + str(running[name]) if name in running else 'stopped'}")
    print(f"{'kafka':<11} {'running' if LocalKafka(LOCAL / 'kafka').is_running else 'stopped'}")
    print(f"{'clickhouse':<11} {'running' if LocalClickHouse(LOCAL / 'clickhouse').is_running else 'stopped'}")
    print(f"{'postgres':<11} {'running' if LocalPostgres(LOCAL / 'postgres').is_running else 'stopped'}")
    if running:
        from deploy.status import consumer_report

        ports = {name: os.environ.get(variable, DEFAULT_PORTS[variable])
                 for name, variable in HTTP_PORT_VARIABLES.items() if name in running}
        admin_key = local_keys().get("admin") if KEYS_FILE.exists() else None
        print()
        for line in consumer_report({name: f"http://127.0.0.1:{port}" for name, port in ports.items()}, admin_key):
            print(line)
    return 0 if running else 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["start", "stop", "status"])
    command = parser.parse_args(argv).command
    return {"start": start, "stop": stop, "status": status}[command]()


if __name__ == "__main__":
    sys.exit(main())

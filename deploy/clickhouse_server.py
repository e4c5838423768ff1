"""The ClickHouse server process: chdb-core's full engine serving the real HTTP interface.

Run by :mod:`deploy.local_clickhouse`, never imported by services. This process does
nothing but serve: chdb allows one engine per process and one process per data dir.

How it works: ``chdb._chdb.query`` runs a full clickhouse-local over ``--data-dir``. With
a ``config.xml`` in the working directory (HTTP port, listen host, users file), the
query ``SYSTEM START LISTEN HTTP`` opens the listener, and a never-ending
``sleepEachRow`` query keeps the engine (and so the listener) alive. SIGTERM stops it
cleanly by killing that query over HTTP, which lets the engine flush and exit.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import urllib.request
from pathlib import Path
from xml.sax.saxutils import escape

KEEPALIVE_MARKER = "tokentally_keepalive_7f3c"

CONFIG_XML = """<clickhouse>
    <listen_host>{listen_host}</listen_host>
    <http_port>{port}</http_port>
    <users_config>users.xml</users_config>
    <logger><level>warning</level><console>1</console></logger>
    <max_concurrent_queries>200</max_concurrent_queries>
    <background_pool_size>4</background_pool_size>
</clickhouse>
"""

USERS_XML = """<clickhouse>
    <profiles>
        <default>
            <async_insert_busy_timeout_max_ms>200</async_insert_busy_timeout_max_ms>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
            <access_management>1</access_management>
        </default>
        <{user}>
            <password>{password}</password>
            <networks><ip>::/0</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
            <access_management>1</access_management>
        </{user}>
    </users>
    <quotas><default></default></quotas>
</clickhouse>
"""


def write_config(conf_dir: Path, port: int, listen_host: str, user: str, password: str) -> None:
    conf_dir.mkdir(parents=True, exist_ok=True)
    (conf_dir / "config.xml").write_text(CONFIG_XML.format(port=port, listen_host=escape(listen_host)))
    (conf_dir / "users.xml").write_text(USERS_XML.format(user=escape(user), password=escape(password)))


def _stop_listener(port: int) -> None:
    """Kill the keep-alive query over HTTP (a POST: GET requests are read-only)."""
    sql = f"KILL QUERY WHERE query LIKE '%{KEEPALIVE_MARKER}%' AND query NOT LIKE '%KILL%' SYNC"
    request = urllib.request.Request(f"http://127.0.0.1:{port}/", data=sql.encode(), method="POST")
    try:
        urllib.request.urlopen(request, timeout=10).read()
    except OSError as exc:  # already gone: nothing to stop
        print(f"clickhouse: stop request failed: {exc}", file=sys.stderr)


def serve(data_dir: Path, port: int, listen_host: str, user: str, password: str) -> int:
    import chdb._chdb as engine  # noqa: PLC0415 - importing chdb changes the working directory

    conf_dir = data_dir / "conf"
    write_config(conf_dir, port, listen_host, user, password)
    os.chdir(conf_dir)  # after the import: the engine reads config.xml from here

    outcome: dict[str, BaseException] = {}

    def run() -> None:
        sql = (
            "SYSTEM START LISTEN HTTP; "
            f"SELECT sleepEachRow(1), '{KEEPALIVE_MARKER}' FROM system.numbers "
            "SETTINGS max_block_size=1, function_sleep_max_microseconds_per_block=0 FORMAT Null"
        )
        try:
            engine.query(sql, "TabSeparated", path=str(data_dir / "db"))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="clickhouse-engine", daemon=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    worker.start()
    while not stop.is_set() and worker.is_alive():
        stop.wait(0.2)
    if worker.is_alive():
        _stop_listener(port)
        worker.join(timeout=30)
    error = outcome.get("error")
    if error is not None and not stop.is_set():
        print(f"clickhouse: engine stopped: {error}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--listen-host", default="127.0.0.1")
    parser.add_argument("--user", default="tokentally")
    parser.add_argument("--password-env", default="CLICKHOUSE_SERVER_PASSWORD",
                        help="environment variable holding the service user's password")
    args = parser.parse_args(argv)
    password = os.environ.get(args.password_env, "tokentally")
    return serve(args.data_dir.resolve(), args.port, args.listen_host, args.user, password)


if __name__ == "__main__":
    sys.exit(main())

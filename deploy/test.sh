#!/usr/bin/env bash
# Runs the whole test suite. The tests start a real Apache Kafka and a real ClickHouse
# themselves (or use KAFKA_BOOTSTRAP_SERVERS / CLICKHOUSE_URL when set).
#   deploy/test.sh                 # everything
#   deploy/test.sh tests/pricing   # any pytest arguments
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
deploy/bootstrap.sh
# The dashboard's browser tests drive Debian's Chromium through chromedriver (Selenium).
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "test: installing chromium and chromium-driver for the browser tests (apt)" >&2
        apt-get update -q >&2 && apt-get install -y -q chromium chromium-driver >&2
    else
        echo "test: no chromium/chromedriver (apt-get install chromium chromium-driver): browser tests will skip" >&2
    fi
fi
exec uv run --frozen pytest "$@"

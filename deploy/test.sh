#!/usr/bin/env bash
# Runs the whole test suite. The tests start a real Apache Kafka and a real ClickHouse
# themselves (or use KAFKA_BOOTSTRAP_SERVERS / CLICKHOUSE_URL when set).
#   deploy/test.sh                 # everything
#   deploy/test.sh tests/pricing   # any pytest arguments
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
deploy/bootstrap.sh
exec uv run --frozen pytest "$@"

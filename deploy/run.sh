#!/usr/bin/env bash
# Runs the whole system locally in the background: Kafka, ClickHouse, every service,
# plus demo clients and a day of demo usage.
#   deploy/run.sh start | stop | status
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
deploy/bootstrap.sh
exec uv run --frozen python -m deploy.stack "${1:-start}"

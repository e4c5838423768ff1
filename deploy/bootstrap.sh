#!/usr/bin/env bash
# Installs everything TokenTally needs on a fresh machine, from package registries only:
# uv (PyPI), the locked Python environment, and Apache Kafka's jars (Maven Central).
# Idempotent and quick when everything is there already.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v uv >/dev/null 2>&1; then
    echo "bootstrap: installing uv" >&2
    python3 -m pip install --quiet --disable-pip-version-check uv >&2
fi
command -v java >/dev/null 2>&1 || { echo "bootstrap: Java 17 is required for Kafka (apt-get install openjdk-17-jre-headless)" >&2; exit 1; }
uv sync --frozen --quiet >&2
deploy/kafka/install.sh >/dev/null

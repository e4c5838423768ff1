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
# Invoice PDFs (WeasyPrint) need Pango, HarfBuzz's subsetter and a font: Debian 12 machines have
# them; a slim image may not.
if ! ldconfig -p 2>/dev/null | grep -q 'libpango-1.0.so.0' || ! ldconfig -p 2>/dev/null | grep -q 'libharfbuzz-subset.so.0' \
        || ! (fc-list 2>/dev/null | grep -qi 'liberation\|dejavu'); then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "bootstrap: installing Pango and fonts for invoice PDFs (apt)" >&2
        apt-get update -q >&2 && apt-get install -y -q --no-install-recommends \
            libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig fonts-liberation fonts-dejavu-core >&2
    else
        echo "bootstrap: invoice PDFs need Pango and a font: apt-get install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-liberation" >&2
        exit 1
    fi
fi
uv sync --frozen --quiet >&2
deploy/kafka/install.sh >/dev/null

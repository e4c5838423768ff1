#!/usr/bin/env bash
# Fetch the Apache Kafka broker jars listed in deploy/kafka/pom.xml into a local cache.
#
#   deploy/kafka/install.sh          # prints the lib directory (the only line on stdout)
#
# Cache: ${TOKENTALLY_CACHE:-$HOME/.cache/tokentally}/kafka-<version>/lib
# Idempotent: a marker holding the pom's sha256 is written after a successful copy; when it
# matches, Maven is not run at all. A changed pom re-installs. Concurrent runs are serialised
# with flock. Progress goes to stderr so callers can read the path from stdout.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pom="$here/pom.xml"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")"
[[ -n "$version" ]] || { echo "install.sh: no <kafka.version> in $pom" >&2; exit 1; }

cache="${TOKENTALLY_CACHE:-$HOME/.cache/tokentally}/kafka-$version"
lib="$cache/lib"
marker="$lib/.installed"
want="$(sha256sum "$pom" | cut -d' ' -f1)"

installed() { [[ -f "$marker" && "$(cat "$marker")" == "$want" ]]; }

if ! installed; then
    command -v mvn >/dev/null || { echo "install.sh: Maven (mvn) is not installed" >&2; exit 1; }
    mkdir -p "$cache"
    exec 9>"$cache/.install.lock"
    flock 9
    if ! installed; then  # another process may have finished while we waited for the lock
        echo "install.sh: fetching Kafka $version jars into $lib" >&2
        tmp="$cache/lib.partial.$$"
        rm -rf "$tmp"
        mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
            -DincludeScope=runtime -DoutputDirectory="$tmp" >&2
        echo "$want" > "$tmp/.installed"
        rm -rf "$lib"
        mv "$tmp" "$lib"
    fi
fi
echo "$lib"

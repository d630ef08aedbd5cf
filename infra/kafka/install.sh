#!/usr/bin/env bash
# Fetches the Kafka broker's jars from Maven Central (pom.xml beside this file) into .local/kafka/libs, once.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
libs="$root/.local/kafka/libs"
stamp="$libs/.pom.sha256"
want=$(sha256sum "$root/infra/kafka/pom.xml" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
echo "== fetching Kafka broker jars from Maven Central" >&2
rm -rf "$libs"
mkdir -p "$libs"
mvn -q -B -f "$root/infra/kafka/pom.xml" dependency:copy-dependencies -DoutputDirectory="$libs" -DincludeScope=runtime >&2
echo "$want" > "$stamp"

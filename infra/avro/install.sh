#!/usr/bin/env bash
# Fetches avro-tools (a self-contained jar) from Maven Central into .local/avro, once; prints its path.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir="$root/.local/avro"
jar=$(ls "$dir"/avro-tools-*.jar 2>/dev/null | head -1 || true)
if [ -z "$jar" ]; then
  mkdir -p "$dir"
  mvn -q -B -f "$root/infra/avro/pom.xml" dependency:copy-dependencies -DoutputDirectory="$dir" >&2
  jar=$(ls "$dir"/avro-tools-*.jar | head -1)
fi
echo "$jar"

#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: installs what it needs, then lint, types and tests.
# Integration tests start their own services (embedded broker, embedded ClickHouse) on free ports.
set -euo pipefail
cd "$(dirname "$0")/.."

infra/setup.sh
# Jars from Maven Central for the real-service tests, fetched once before test files run in parallel.
infra/kafka/install.sh
infra/avro/install.sh >/dev/null
bench/kafka-streams/build.sh >/dev/null

echo "== lint"
npm run --silent lint
echo "== typecheck"
npm run --silent typecheck
echo "== tests"
report=$(mktemp)
status=0
npx vitest run --reporter=default --reporter=json --outputFile="$report" || status=$?
# One plain closing line, whatever the reporter printed above.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' "$report" || true
rm -f "$report"
exit "$status"

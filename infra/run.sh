#!/usr/bin/env bash
# Runs gridstream: by default the embedded demo (broker, log, ClickHouse, processors, API and a simulated
# feeder in one process). Arguments go to the gridstream command, e.g. `infra/run.sh run --config my.json`.
set -euo pipefail
cd "$(dirname "$0")/.."
infra/setup.sh >&2
if [ $# -eq 0 ]; then set -- demo; fi
exec node dist/bin/gridstream.js "$@"

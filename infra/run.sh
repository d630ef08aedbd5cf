#!/usr/bin/env bash
# Runs gridstream: by default the embedded demo (broker, log, ClickHouse, processors, API and a simulated
# feeder in one process). Arguments go to the gridstream command, e.g. `infra/run.sh run --config my.json`.
set -euo pipefail
cd "$(dirname "$0")/.."
infra/setup.sh >&2
if [ $# -eq 0 ]; then set -- demo; fi
# Two glibc malloc arenas instead of one per allocating thread (librdkafka runs several): ~130 MB less
# resident in a busy processor, at no measurable cost (README: Benchmark).
export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}
exec node dist/bin/gridstream.js "$@"

#!/usr/bin/env bash
# Runs gridstream: by default the embedded demo (broker, log, ClickHouse, processors, API and a simulated
# feeder in one process). Arguments go to the gridstream command, e.g. `infra/run.sh run --config my.json`.
set -euo pipefail
cd "$(dirname "$0")/.."
infra/setup.sh >&2
if [ $# -eq 0 ]; then set -- demo; fi
# One glibc malloc arena for all threads instead of one per allocating thread (librdkafka runs several):
# ~130 MB less resident in a busy processor than the default, ~40 MB less than two, at no measurable CPU cost
# (docs/benchmarks.md).
export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-1}
# Blocks of 128 KiB and more from mmap, and free memory above 128 KiB returned to the system: glibc otherwise
# raises its mmap threshold to the largest block freed (a processor frees many: packed slots, Kafka buffers)
# and keeps what was freed, ~100 MB more resident in a busy processor (docs/benchmarks.md). Yours wins.
export GLIBC_TUNABLES=${GLIBC_TUNABLES:-glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072}
exec node dist/bin/gridstream.js "$@"

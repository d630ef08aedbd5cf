#!/usr/bin/env bash
# Stops the Prometheus start.sh started from DIR (default .local/prometheus/default): SIGTERM, SIGKILL after 30 s.
#
#   infra/prometheus/stop.sh [--dir DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir="$root/.local/prometheus/default"
[ "${1:-}" = "--dir" ] && dir="$2"
[ -f "$dir/prometheus.pid" ] || exit 0
pid="$(cat "$dir/prometheus.pid")"
if kill -0 "$pid" 2>/dev/null; then
  kill "$pid"
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
fi
rm -f "$dir/prometheus.pid"

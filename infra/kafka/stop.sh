#!/usr/bin/env bash
# Stops the broker started by start.sh in DIR (default .local/kafka/default): SIGTERM, then SIGKILL after 30 s.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir="${1:-$root/.local/kafka/default}"
[ -f "$dir/broker.pid" ] || exit 0
pid=$(cat "$dir/broker.pid")
if kill -0 "$pid" 2>/dev/null; then
  kill "$pid"
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
fi
rm -f "$dir/broker.pid"

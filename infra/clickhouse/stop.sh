#!/usr/bin/env bash
# Stops a ClickHouse server started by infra/clickhouse/start.sh: SIGTERM (the server finishes what it is
# doing and flushes), then SIGKILL if it is still running after CLICKHOUSE_STOP_TIMEOUT seconds (default 30).
# Its data stays in the directory, for the next start.
#
#   infra/clickhouse/stop.sh [DIR | NAME]      (as for start.sh; default: dev)
set -euo pipefail

. "$(dirname "$0")/lib.sh"

if [ ! -f "$pidfile" ]; then
  say "not running in $dir (no pid file)"
  exit 0
fi
pid=$(cat "$pidfile")
if ! ours "$pid"; then
  say "not running in $dir (pid $pid is gone)"
  rm -f "$pidfile"
  exit 0
fi

kill -TERM "$pid"
deadline=$((SECONDS + ${CLICKHOUSE_STOP_TIMEOUT:-30}))
while alive "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
if alive "$pid"; then
  say "still running after SIGTERM; killing pid $pid"
  kill -KILL "$pid" 2>/dev/null || true
  while alive "$pid"; do sleep 0.1; done
fi
rm -f "$pidfile"
say "stopped (pid $pid; data kept in $dir)"

#!/usr/bin/env bash
# Starts a ClickHouse server for gridstream: Debian's clickhouse-server (infra/setup.sh installs it), run as
# the current user with infra/clickhouse/config.xml, listening on 127.0.0.1 on free ports, with its data, logs
# and temporary files all under one directory. Prints the HTTP URL once the server answers SELECT 1.
#
#   infra/clickhouse/start.sh [DIR | NAME]
#
# An argument containing a '/' is the directory; otherwise it names .local/clickhouse/NAME in the repository
# (default: dev). Started again on the same directory, the server keeps its data and, while they are free,
# its ports (so its URL stays the same); if it is already running there, its URL is printed. It runs in the
# background until infra/clickhouse/stop.sh [DIR | NAME]; nothing starts it at boot.
#
# Environment: CLICKHOUSE_HTTP_PORT, CLICKHOUSE_TCP_PORT choose the ports; CLICKHOUSE_SERVER the binary;
# CLICKHOUSE_START_TIMEOUT how many seconds to wait for the first answer (default 60).
#
# In the directory: data/, tmp/, log/ (server log, error log, stdout), clickhouse-server.pid, ports, url.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
pidfile=$dir/clickhouse-server.pid

server=${CLICKHOUSE_SERVER:-$(command -v clickhouse-server || echo /usr/sbin/clickhouse-server)}
if [ ! -x "$server" ]; then
  say "no clickhouse-server binary at $server: install Debian's clickhouse-server (infra/setup.sh does)"
  exit 1
fi

# Whether something accepts connections on port $1.
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# The body of GET http://127.0.0.1:$1/?query=SELECT%201 (bash only: a fresh machine may lack curl).
select1() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'GET /?query=SELECT%%201 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    timeout 5 cat <&3 | tail -n 1 | tr -d '\r'
  ) 2>/dev/null
}
# A port the kernel considers free right now.
free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

if [ -f "$pidfile" ] && ours "$(cat "$pidfile")" && [ -f "$dir/url" ]; then
  port=$(cut -d' ' -f1 "$dir/ports")
  if [ "$(select1 "$port")" = 1 ]; then
    say "already running in $dir (pid $(cat "$pidfile"))"
    cat "$dir/url"
    exit 0
  fi
fi

mkdir -p "$dir/data" "$dir/tmp" "$dir/log"
export GRIDSTREAM_CH_DATA=$dir/data/ GRIDSTREAM_CH_TMP=$dir/tmp/
export GRIDSTREAM_CH_LOG=$dir/log/clickhouse-server.log GRIDSTREAM_CH_ERRLOG=$dir/log/clickhouse-server.err.log

timeout_s=${CLICKHOUSE_START_TIMEOUT:-60}
for attempt in 1 2 3; do
  http=${CLICKHOUSE_HTTP_PORT:-}
  tcp=${CLICKHOUSE_TCP_PORT:-}
  if [ -z "$http" ] && [ -z "$tcp" ] && [ "$attempt" = 1 ] && [ -f "$dir/ports" ]; then
    read -r http tcp <"$dir/ports" || true
    if in_use "$http" || in_use "$tcp"; then http='' tcp=''; fi
  fi
  [ -n "$http" ] || http=$(free_port)
  while [ -z "$tcp" ] || [ "$tcp" = "$http" ]; do tcp=$(free_port); done
  export GRIDSTREAM_CH_HTTP_PORT=$http GRIDSTREAM_CH_TCP_PORT=$tcp
  echo "$http $tcp" >"$dir/ports"

  # setsid: the server outlives this script and the terminal it ran in.
  setsid "$server" --config-file="$here/config.xml" </dev/null >>"$dir/log/stdout.log" 2>&1 &
  pid=$!
  echo "$pid" >"$pidfile"

  deadline=$((SECONDS + timeout_s))
  while alive "$pid" && [ $SECONDS -lt $deadline ]; do
    if [ "$(select1 "$http")" = 1 ]; then
      echo "http://127.0.0.1:$http" >"$dir/url"
      say "started in $dir (pid $pid, native port $tcp)"
      cat "$dir/url"
      exit 0
    fi
    sleep 0.2
  done
  if alive "$pid"; then
    kill -KILL "$pid" 2>/dev/null || true
    say "no answer on port $http within ${timeout_s}s; see $dir/log"
    exit 1
  fi
  rm -f "$pidfile"
  # Lost a race for a port that was free a moment ago: try other ports (unless they were given).
  if grep -qs "Address already in use" "$dir/log/clickhouse-server.err.log" "$dir/log/stdout.log" &&
    [ -z "${CLICKHOUSE_HTTP_PORT:-}${CLICKHOUSE_TCP_PORT:-}" ] && [ "$attempt" -lt 3 ]; then
    say "port $http or $tcp was taken meanwhile; trying others"
    : >"$dir/log/clickhouse-server.err.log"
    continue
  fi
  say "clickhouse-server exited while starting; the end of its error log ($dir/log):"
  tail -n 20 "$dir/log/clickhouse-server.err.log" "$dir/log/stdout.log" >&2 || true
  exit 1
done

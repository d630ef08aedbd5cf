#!/usr/bin/env bash
# Starts Prometheus (Debian's package) for gridstream with prometheus.yml and alerts.yml from this directory.
#
#   infra/prometheus/start.sh [--dir DIR] [--port PORT] [--target HOST:PORT[=ROLE]]...
#
# DIR (default .local/prometheus/default) receives copies of prometheus.yml and alerts.yml, targets/ and the
# TSDB in data/; the log is DIR/prometheus.log, the pid DIR/prometheus.pid. PORT (default: the one DIR used
# last, else a free one) is the web UI and API on 127.0.0.1. Each --target is a gridstream process to scrape,
# ROLE one of all (default), bridge, processor, api; without --target, targets/local.yml (127.0.0.1:8080).
# Prints the URL (http://127.0.0.1:PORT) once Prometheus is ready. Stop: infra/prometheus/stop.sh [--dir DIR].
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dir="$root/.local/prometheus/default"
port=""
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --target) targets+=("$2"); shift 2 ;;
    -h | --help) awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;;
    *) echo "start.sh: unknown option $1 (see --help)" >&2; exit 1 ;;
  esac
done
command -v prometheus >/dev/null || { echo "prometheus is not installed (infra/setup.sh installs it)" >&2; exit 1; }
mkdir -p "$dir/data" "$dir/targets"
dir="$(cd "$dir" && pwd)"

if [ -f "$dir/prometheus.pid" ] && kill -0 "$(cat "$dir/prometheus.pid")" 2>/dev/null; then
  echo "prometheus already running from $dir (pid $(cat "$dir/prometheus.pid"))" >&2
  echo "http://127.0.0.1:$(cat "$dir/port")"
  exit 0
fi

cp "$here/prometheus.yml" "$here/alerts.yml" "$dir/"
rm -f "$dir"/targets/*.yml
if [ ${#targets[@]} -eq 0 ]; then
  cp "$here/targets/local.yml" "$dir/targets/gridstream.yml"
else
  for t in "${targets[@]}"; do
    address="${t%%=*}"
    role="all"
    [ "$address" != "$t" ] && role="${t#*=}"
    case "$role" in all | bridge | processor | api) ;; *) echo "unknown role $role in --target $t" >&2; exit 1 ;; esac
    printf -- '- targets: [%s]\n  labels: { role: %s }\n' "'$address'" "$role"
  done > "$dir/targets/gridstream.yml"
fi
promtool check config "$dir/prometheus.yml" >/dev/null

if [ -z "$port" ] && [ -f "$dir/port" ]; then port="$(cat "$dir/port")"; fi
if [ -z "$port" ]; then
  port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
fi
echo "$port" > "$dir/port"
: > "$dir/prometheus.log"
nohup prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
  --web.listen-address="127.0.0.1:$port" > "$dir/prometheus.log" 2>&1 &
echo $! > "$dir/prometheus.pid"
for _ in $(seq 1 300); do
  if grep -q 'Server is ready to receive web requests' "$dir/prometheus.log"; then
    echo "prometheus running from $dir (pid $(cat "$dir/prometheus.pid"))" >&2
    echo "http://127.0.0.1:$port"
    exit 0
  fi
  kill -0 "$(cat "$dir/prometheus.pid")" 2>/dev/null || break
  sleep 0.1
done
echo "prometheus did not start on port $port; see $dir/prometheus.log:" >&2
tail -n 20 "$dir/prometheus.log" >&2
kill "$(cat "$dir/prometheus.pid")" 2>/dev/null || true
exit 1

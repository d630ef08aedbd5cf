#!/bin/sh
# Stops the broker start.sh started from DIR: SIGTERM (Mosquitto saves its persistence file), SIGKILL after 10 s.
#
#   infra/mosquitto/stop.sh [--name NAME | --dir DIR]
set -eu
. "$(dirname "$0")/lib.sh"
parse_dir_options "$@"
[ -z "$rest" ] || die "unknown option $(echo "$rest" | head -n 1)"
[ -d "$dir" ] || exit 0
pid="$(running_pid)"
if [ -n "$pid" ]; then
  kill "$pid"
  i=0
  while [ $i -lt 100 ] && kill -0 "$pid" 2>/dev/null; do
    sleep 0.1
    i=$((i + 1))
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "mosquitto (pid $pid) did not stop within 10 s: killing it" >&2
    kill -9 "$pid"
  fi
fi
rm -f "$dir/mosquitto.pid"

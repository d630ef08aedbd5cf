#!/bin/sh
# Starts a Mosquitto broker for gridstream as the current user, with password authentication and the ACL.
#
#   infra/mosquitto/start.sh [--name NAME | --dir DIR] [--port PORT] [--bind ADDRESS] [--foreground]
#
# DIR (default .local/mosquitto/NAME, NAME default "default") holds mosquitto.conf (rendered from
# mosquitto.conf.template), passwd, acl, data/, mosquitto.log and mosquitto.pid. PORT defaults to the port
# DIR used last, else a free one; ADDRESS to 127.0.0.1. Prints the broker's URL (mqtt://127.0.0.1:PORT) once
# it accepts connections; a broker already running from DIR is left as it is and its URL printed.
# --foreground runs the broker in this process (logging to stdout), as in docker-compose.yml.
# Accounts: infra/mosquitto/add-user.sh (before or while the broker runs). Stop: infra/mosquitto/stop.sh.
set -eu
. "$(dirname "$0")/lib.sh"
parse_dir_options "$@"
port=
bind=127.0.0.1
foreground=false
set -f
# shellcheck disable=SC2086 # $rest is one option per line
IFS='
'
set -- $rest
unset IFS
set +f
while [ $# -gt 0 ]; do
  case "$1" in
    --port) [ $# -ge 2 ] || die "--port needs a value"; port="$2"; shift 2 ;;
    --bind) [ $# -ge 2 ] || die "--bind needs a value"; bind="$2"; shift 2 ;;
    --foreground) foreground=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
case "$port" in '' | *[!0-9]*) [ -z "$port" ] || die "--port must be a number: $port" ;; esac
bin="$(mosquitto_bin)"
init_dir

pid="$(running_pid)"
if [ -n "$pid" ]; then
  echo "mosquitto already running from $dir (pid $pid)" >&2
  echo "mqtt://127.0.0.1:$(cat "$dir/port")"
  exit 0
fi

free_port() {
  if command -v node >/dev/null 2>&1; then
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
  elif command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
  else
    die "no node or python3 to find a free port: give --port"
  fi
}

render() {
  sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$1|g" -e "s|@BIND@|$bind|g" -e "s|@USER@|$(id -un)|g" \
    -e "s|@LOG_DEST@|$2|g" "$here/mosquitto.conf.template" > "$dir/mosquitto.conf"
  echo "$1" > "$dir/port"
}

if [ "$foreground" = true ]; then
  [ -n "$port" ] || port=1883
  render "$port" stdout
  exec "$bin" -c "$dir/mosquitto.conf"
fi

# A port chosen here may be taken by someone else before the broker binds it: then try another.
given="$port"
if [ -z "$port" ] && [ -f "$dir/port" ]; then port="$(cat "$dir/port")"; fi
attempt=1
while :; do
  [ -n "$port" ] || port="$(free_port)"
  render "$port" "file $dir/mosquitto.log"
  touch "$dir/mosquitto.log"
  offset=$(($(wc -c < "$dir/mosquitto.log") + 1))
  nohup "$bin" -c "$dir/mosquitto.conf" > "$dir/stderr.log" 2>&1 &
  pid=$!
  i=0
  while [ $i -lt 100 ]; do
    if tail -c +"$offset" "$dir/mosquitto.log" | grep -q 'mosquitto version .* running'; then
      echo "mosquitto running from $dir (pid $pid)" >&2
      echo "mqtt://127.0.0.1:$port"
      exit 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
    i=$((i + 1))
  done
  kill "$pid" 2>/dev/null || true
  if [ -z "$given" ] && [ $attempt -lt 3 ] &&
    tail -c +"$offset" "$dir/mosquitto.log" | grep -q 'Address already in use'; then
    attempt=$((attempt + 1))
    port=
    continue
  fi
  echo "mosquitto did not start on port $port; from $dir:" >&2
  tail -n 20 "$dir/stderr.log" >&2 || true
  tail -c +"$offset" "$dir/mosquitto.log" | tail -n 20 >&2 || true
  exit 1
done

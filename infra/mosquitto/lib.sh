# Shared by start.sh, stop.sh, add-user.sh and add-meters.sh (POSIX sh: it also runs in the eclipse-mosquitto image).
# Sets $here (this directory), $root (the repository, when there is one) and $dir (the broker's directory).

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

die() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

# --name NAME (default "default") or --dir DIR selects the broker's directory: .local/mosquitto/NAME by default.
# Other options are left in $rest, one per line, for the caller.
parse_dir_options() {
  name=default
  dir=
  rest=
  while [ $# -gt 0 ]; do
    case "$1" in
      --name) [ $# -ge 2 ] || die "--name needs a value"; name="$2"; shift 2 ;;
      --dir) [ $# -ge 2 ] || die "--dir needs a value"; dir="$2"; shift 2 ;;
      *) rest="$rest$1
"; shift ;;
    esac
  done
  [ -n "$dir" ] || dir="$root/.local/mosquitto/$name"
}

# Creates the directory layout once: data/, an empty password file and the ACL from the template.
init_dir() {
  mkdir -p "$dir/data"
  dir="$(cd "$dir" && pwd)"
  case "$dir" in *" "*) die "the broker directory must not contain spaces (mosquitto.conf paths): $dir" ;; esac
  chmod 700 "$dir"
  if [ ! -f "$dir/passwd" ]; then
    : > "$dir/passwd"
    chmod 600 "$dir/passwd"
  fi
  if [ ! -f "$dir/acl" ]; then
    cp "$here/acl.template" "$dir/acl"
    chmod 600 "$dir/acl"
  fi
}

# The pid of the broker running from $dir, or nothing.
running_pid() {
  [ -f "$dir/mosquitto.pid" ] || return 0
  pid="$(cat "$dir/mosquitto.pid")"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
}

# Makes the broker running from $dir, if any, reload its password file and ACL (SIGHUP), and waits until its
# log says it has (5 s at most), so an account added before this returns works.
reload_broker() {
  pid="$(running_pid)"
  [ -n "$pid" ] || return 0
  log="$dir/mosquitto.log"
  offset=1
  [ -f "$log" ] && offset=$(($(wc -c < "$log") + 1))
  kill -HUP "$pid"
  i=0
  while [ $i -lt 50 ] && [ -f "$log" ]; do
    tail -c +"$offset" "$log" | grep -q 'Reloading config' && break
    sleep 0.1
    i=$((i + 1))
  done
}

mosquitto_bin() {
  command -v mosquitto 2>/dev/null || { [ -x /usr/sbin/mosquitto ] && echo /usr/sbin/mosquitto; } ||
    die "mosquitto is not installed (infra/setup.sh installs it)"
}

# Prints the comment block at the top of the calling script.
usage() {
  awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
}

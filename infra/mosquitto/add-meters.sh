#!/bin/sh
# Adds many meter accounts in one pass: the password file is hashed once (mosquitto_passwd -U) instead of
# being rewritten per meter as add-user.sh does. A running broker reloads it (SIGHUP).
#
#   infra/mosquitto/add-meters.sh [--name NAME | --dir DIR] FILE
#
# FILE (or - for standard input) has one meter per line, METER_ID:PASSWORD; empty lines and lines starting
# with # are skipped. Meter ids follow add-user.sh's rules; passwords must not be empty or contain ':'.
# A meter already in the password file gets the new password. Each meter may publish only to
# gridstream/v1/meters/METER_ID/telemetry (the ACL's meter pattern).
set -eu
. "$(dirname "$0")/lib.sh"
parse_dir_options "$@"
set -f
IFS='
'
# shellcheck disable=SC2086 # $rest is one argument per line
set -- $rest
unset IFS
set +f
case "${1:-}" in -h | --help) usage; exit 0 ;; esac
[ $# -eq 1 ] || die "usage: add-meters.sh [--name NAME | --dir DIR] FILE"
command -v mosquitto_passwd >/dev/null 2>&1 || die "mosquitto_passwd is not installed (infra/setup.sh installs mosquitto)"
init_dir

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
umask 077
if [ "$1" = - ]; then cat > "$work/input"; else cat -- "$1" > "$work/input"; fi

# Check every line before changing anything; reserved names are other roles' accounts (ACL blocks).
grep '^user ' "$dir/acl" | cut -c6- > "$work/reserved" || true
awk -v reserved="$work/reserved" '
  BEGIN { while ((getline name < reserved) > 0) taken[name] = 1 }
  /^[[:space:]]*(#|$)/ { next }
  {
    i = index($0, ":"); id = substr($0, 1, i - 1); password = substr($0, i + 1)
    if (i == 0) { bad("expected METER_ID:PASSWORD"); next }
    if (length(id) < 1 || length(id) > 128) { bad("the meter id must have 1 to 128 characters"); next }
    if (id ~ /[[:space:]\/+#]/ || id ~ /[[:cntrl:]]/) { bad("the meter id must not contain whitespace, /, + or #"); next }
    if (id ~ /^(weather|dispatch)\./) { bad("a meter id must not start with weather. or dispatch."); next }
    if (id in taken) { bad("\"" id "\" is an account of another role"); next }
    if (password == "" || password ~ /:/) { bad("the password must not be empty or contain :"); next }
    if (id in seen) { bad("meter \"" id "\" appears twice"); next }
    seen[id] = 1
    print id ":" password
  }
  function bad(why) { printf "line %d: %s\n", NR, why > "/dev/stderr"; failed = 1 }
  END { exit failed }
' "$work/input" > "$work/plain" || die "no meter added: fix the lines above"
count=$(wc -l < "$work/plain")
[ "$count" -gt 0 ] || die "no meters in $1"

mosquitto_passwd -U "$work/plain"
# Accounts already in the password file and in FILE are replaced.
cut -d: -f1 "$work/plain" > "$work/names"
awk -F: -v names="$work/names" 'BEGIN { while ((getline n < names) > 0) replace[n] = 1 } !($1 in replace)' \
  "$dir/passwd" > "$work/passwd"
cat "$work/plain" >> "$work/passwd"
cat "$work/passwd" > "$dir/passwd"

reload_broker
echo "$count meter accounts added to $dir/passwd" >&2

#!/bin/sh
# Adds an account to a gridstream Mosquitto broker's password file (mosquitto_passwd -b) and, for accounts
# that are not meters, its block to the ACL. A running broker reloads both (SIGHUP); adding an account again
# changes its password.
#
#   infra/mosquitto/add-user.sh [--name NAME | --dir DIR] ROLE ID PASSWORD [ASSET...]
#
#   ROLE      username            may
#   meter     ID (the meter id)   publish to gridstream/v1/meters/ID/telemetry
#   weather   weather.ID          publish to gridstream/v1/weather/ID (ID is the station id)
#   dispatch  dispatch.ID         publish to gridstream/v1/dispatch/ASSET for each ASSET given, or to
#                                 gridstream/v1/dispatch/+ without (ID names the platform)
#   ingest    ID                  read gridstream/v1/# (gridstream's own consumer)
#
# Adding a dispatch account again replaces its assets.
# IDs are 1 to 128 characters without whitespace, '/', '+', '#' or ':' (MQTT topic levels, the password
# file's separator); meter ids must not start with "weather." or "dispatch.". The password is visible to
# other local users in the process list while mosquitto_passwd runs; an ingest password that goes into
# GRIDSTREAM_MQTT_URL must not contain ':' (mqtt.js splits the URL's credentials at the last ':').
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
[ $# -ge 3 ] || die "usage: add-user.sh [--name NAME | --dir DIR] meter|weather|dispatch|ingest ID PASSWORD [ASSET...]"
role="$1"
id="$2"
password="$3"
shift 3
[ $# -eq 0 ] || [ "$role" = dispatch ] || die "only dispatch accounts take assets"
for asset in "$@"; do
  if [ "${#asset}" -lt 1 ] || [ "${#asset}" -gt 128 ]; then die "ASSET must have 1 to 128 characters: '$asset'"; fi
  case "$asset" in
    *[[:space:]/+#:]* | *[[:cntrl:]]*) die "ASSET must not contain whitespace, '/', '+', '#' or ':': '$asset'" ;;
  esac
done

[ -n "$password" ] || die "the password must not be empty"
if [ "${#id}" -lt 1 ] || [ "${#id}" -gt 128 ]; then die "ID must have 1 to 128 characters: '$id'"; fi
case "$id" in
  *[[:space:]/+#:]* | *[[:cntrl:]]*) die "ID must not contain whitespace, '/', '+', '#' or ':': '$id'" ;;
esac
command -v mosquitto_passwd >/dev/null 2>&1 || die "mosquitto_passwd is not installed (infra/setup.sh installs mosquitto)"
init_dir

replaced=false
case "$role" in
  meter)
    case "$id" in weather.* | dispatch.*) die "a meter id must not start with weather. or dispatch.: '$id'" ;; esac
    username="$id"
    grep -qxF "user $username" "$dir/acl" && die "'$username' is already an account of another role"
    block= ;;
  weather)
    username="weather.$id"
    block="topic deny gridstream/v1/meters/#
topic write gridstream/v1/weather/$id" ;;
  dispatch)
    username="dispatch.$id"
    block="topic deny gridstream/v1/meters/#"
    if [ $# -eq 0 ]; then set -- +; fi
    for asset in "$@"; do
      block="$block
topic write gridstream/v1/dispatch/$asset"
    done
    # Its assets may have changed: the block is written anew (blocks are separated by empty lines).
    if grep -qxF "user $username" "$dir/acl"; then
      replaced=true
      awk -v user="user $username" '
        pending != "" { if ($0 == user) { skip = 1; pending = ""; next } print pending; pending = "" }
        skip { if ($0 == "") skip = 0; next }
        /^# (weather|dispatch|ingest) account$/ { pending = $0; next }
        { print }
        END { if (pending != "") print pending }
      ' "$dir/acl" > "$dir/acl.new"
      cat "$dir/acl.new" > "$dir/acl"
      rm -f "$dir/acl.new"
    fi ;;
  ingest)
    case "$id" in weather.* | dispatch.*) die "an ingest account must not start with weather. or dispatch.: '$id'" ;; esac
    username="$id"
    # The meter pattern would let this account publish as a meter named like it: denied (no meter has
    # this name, the account exists).
    block="topic deny gridstream/v1/meters/$id/telemetry
topic read gridstream/v1/#" ;;
  *) die "ROLE must be meter, weather, dispatch or ingest: '$role'" ;;
esac

if [ -n "$block" ] && ! grep -qxF "user $username" "$dir/acl"; then
  # A meter account with this name would have been created without a block: refuse to change its role.
  if [ "$replaced" = false ] && cut -d: -f1 "$dir/passwd" | grep -qxF "$username"; then
    die "'$username' is already a meter account"
  fi
  printf '\n# %s account\nuser %s\n%s\n' "$role" "$username" "$block" >> "$dir/acl"
fi
mosquitto_passwd -b "$dir/passwd" "$username" "$password"

reload_broker
echo "$role account $username added to $dir/passwd" >&2

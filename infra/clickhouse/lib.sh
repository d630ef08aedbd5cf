# Shared by start.sh and stop.sh (bash). Sets $here (this directory), $root (the repository), $dir (the
# server's directory, from the script's [DIR | NAME] argument $1: default .local/clickhouse/dev) and $pidfile.

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
arg=${1:-dev}
case "$arg" in
*/*) dir=$arg ;;
*) dir=$root/.local/clickhouse/$arg ;;
esac
pidfile=$dir/clickhouse-server.pid

say() { echo "clickhouse: $*" >&2; }
# A process that exists and is not a zombie (a stopped server whose parent has not reaped it yet).
alive() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
# Whether pid $1 is a clickhouse-server started with our config.
ours() { alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q -- "--config-file=$here/config.xml"; }

#!/usr/bin/env bash
# Starts a single-node Apache Kafka broker in KRaft mode (broker and controller in one JVM).
#   infra/kafka/start.sh [DIR] [PORT] [CONTROLLER_PORT]
# DIR holds the config, data, log and pid (default .local/kafka/default); ports default to free ones.
# Prints the bootstrap address (127.0.0.1:PORT) once the broker accepts connections.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
"$root/infra/kafka/install.sh"
dir="${1:-$root/.local/kafka/default}"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
if [ -f "$dir/broker.pid" ] && kill -0 "$(cat "$dir/broker.pid")" 2>/dev/null; then
  echo "Kafka already running in $dir (pid $(cat "$dir/broker.pid"))" >&2
  grep -o '^advertised.listeners=PLAINTEXT://.*' "$dir/server.properties" | sed 's|.*//||'
  exit 0
fi
# Ports are kept in the config so a restart of the same DIR comes back on the same address.
if [ -f "$dir/server.properties" ] && [ -z "${2:-}" ]; then
  port=$(sed -n 's|^advertised.listeners=PLAINTEXT://127.0.0.1:||p' "$dir/server.properties")
  cport=$(sed -n 's|^controller.quorum.voters=1@127.0.0.1:||p' "$dir/server.properties")
else
  port="${2:-$(free_port)}"
  cport="${3:-$(free_port)}"
fi
cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=8
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=168
PROPS
cat > "$dir/log4j2.yaml" <<'LOG'
Configuration:
  Appenders:
    File:
      name: file
      fileName: "${sys:kafka.logs.dir}/server.log"
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: WARN
      AppenderRef:
        - ref: file
    Logger:
      - name: kafka
        level: INFO
LOG
libs="$root/.local/kafka/libs"
cp=("-cp" "$libs/*")
if [ ! -f "$dir/data/meta.properties" ]; then
  cluster=$(java "${cp[@]}" kafka.tools.StorageTool random-uuid)
  java "${cp[@]}" kafka.tools.StorageTool format -t "$cluster" -c "$dir/server.properties" >/dev/null
fi
mkdir -p "$dir/logs"
nohup java -Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true \
  -Dkafka.logs.dir="$dir/logs" -Dlog4j2.configurationFile="$dir/log4j2.yaml" \
  "${cp[@]}" kafka.Kafka "$dir/server.properties" > "$dir/logs/stdout.log" 2>&1 &
echo $! > "$dir/broker.pid"
for _ in $(seq 1 300); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "127.0.0.1:$port"
    exit 0
  fi
  if ! kill -0 "$(cat "$dir/broker.pid")" 2>/dev/null; then
    echo "Kafka exited; see $dir/logs" >&2
    tail -20 "$dir/logs/stdout.log" >&2 || true
    exit 1
  fi
  sleep 0.1
done
echo "Kafka did not open 127.0.0.1:$port within 30 s; see $dir/logs" >&2
exit 1

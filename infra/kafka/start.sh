#!/usr/bin/env bash
# Starts a single-node Apache Kafka broker in KRaft mode (broker and controller in one JVM).
#   infra/kafka/start.sh [DIR] [PORT] [CONTROLLER_PORT]
# DIR holds the config, data, log and pid (default .local/kafka/default); ports default to free ones.
# Prints the bootstrap address (127.0.0.1:PORT) once the broker accepts connections.
# Optional listeners beside PLAINTEXT, on free ports (see advertised.listeners in DIR/server.properties):
#   KAFKA_SASL_USERS="alice:secret,bob:other"  SASL_PLAINTEXT with PLAIN and SCRAM-SHA-256/512 for these users
#   KAFKA_SSL_PEM=/path/broker.pem              SSL with this PEM (unencrypted PKCS#8 key, then certificate chain)
#   both                                        SASL_SSL as well
#   KAFKA_SSL_CLIENT_CA=/path/ca.pem            the SSL listener (not SASL_SSL) requires client certificates
#                                               signed by these CAs
# The listeners are chosen when DIR is first set up; a restart keeps them.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
"$root/infra/kafka/install.sh"
dir="${1:-$root/.local/kafka/default}"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
if [ -f "$dir/broker.pid" ] && kill -0 "$(cat "$dir/broker.pid")" 2>/dev/null; then
  echo "Kafka already running in $dir (pid $(cat "$dir/broker.pid"))" >&2
  sed -n 's|^advertised.listeners=PLAINTEXT://\(127.0.0.1:[0-9]*\).*|\1|p' "$dir/server.properties"
  exit 0
fi
# The config is kept, so a restart of the same DIR comes back on the same addresses and listeners.
if [ ! -f "$dir/server.properties" ] || [ -n "${2:-}" ]; then
  port="${2:-$(free_port)}"
  cport="${3:-$(free_port)}"
  listeners="PLAINTEXT://127.0.0.1:$port"
  protocols="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
  extra=""
  if [ -n "${KAFKA_SASL_USERS:-}" ]; then
    listeners="$listeners,SASL_PLAINTEXT://127.0.0.1:$(free_port)"
    protocols="$protocols,SASL_PLAINTEXT:SASL_PLAINTEXT"
  fi
  if [ -n "${KAFKA_SSL_PEM:-}" ]; then
    listeners="$listeners,SSL://127.0.0.1:$(free_port)"
    protocols="$protocols,SSL:SSL"
    extra+="ssl.keystore.type=PEM"$'\n'"ssl.keystore.location=$KAFKA_SSL_PEM"$'\n'"ssl.client.auth=none"$'\n'
    if [ -n "${KAFKA_SSL_CLIENT_CA:-}" ]; then
      extra+="listener.name.ssl.ssl.client.auth=required"$'\n'
      extra+="listener.name.ssl.ssl.truststore.type=PEM"$'\n'"listener.name.ssl.ssl.truststore.location=$KAFKA_SSL_CLIENT_CA"$'\n'
    fi
  fi
  if [ -n "${KAFKA_SASL_USERS:-}" ] && [ -n "${KAFKA_SSL_PEM:-}" ]; then
    listeners="$listeners,SASL_SSL://127.0.0.1:$(free_port)"
    protocols="$protocols,SASL_SSL:SASL_SSL"
  fi
  if [ -n "${KAFKA_SASL_USERS:-}" ]; then
    # PLAIN checks the users listed in its JAAS config; SCRAM checks credentials stored in the cluster metadata
    # (added when the storage is formatted, below).
    plain_users=""
    IFS=, read -ra pairs <<< "$KAFKA_SASL_USERS"
    for pair in "${pairs[@]}"; do plain_users+=" user_${pair%%:*}=\"${pair#*:}\""; done
    extra+="sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"$'\n'
    for name in sasl_plaintext sasl_ssl; do
      extra+="listener.name.$name.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required$plain_users;"$'\n'
      for scram in scram-sha-256 scram-sha-512; do
        extra+="listener.name.$name.$scram.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"$'\n'
      done
    done
  fi
  cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=$listeners,CONTROLLER://127.0.0.1:$cport
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
listener.security.protocol.map=$protocols
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
$extra
PROPS
fi
port=$(sed -n 's|^advertised.listeners=PLAINTEXT://127.0.0.1:\([0-9]*\).*|\1|p' "$dir/server.properties")
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
  scram=()
  IFS=, read -ra pairs <<< "${KAFKA_SASL_USERS:-}"
  for pair in "${pairs[@]}"; do
    for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
      scram+=(--add-scram "$mechanism=[name=${pair%%:*},password=${pair#*:}]")
    done
  done
  java "${cp[@]}" kafka.tools.StorageTool format -t "$cluster" -c "$dir/server.properties" "${scram[@]}" >/dev/null
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

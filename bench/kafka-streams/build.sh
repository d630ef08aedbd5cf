#!/usr/bin/env bash
# Builds the Kafka Streams envelope app (bench/kafka-streams) and prints its Java class path.
# The dependencies come from Maven Central (pom.xml) into .local/kafka-streams/libs, once per version of the
# pom; the sources are compiled with javac into .local/kafka-streams/classes-<hash of the sources>, once per
# version of them (a few seconds), so an unchanged app costs nothing.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/bench/kafka-streams"
out="$root/.local/kafka-streams"
libs="$out/libs"
stamp="$libs/.pom.sha256"
want=$(sha256sum "$here/pom.xml" | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "== fetching Kafka Streams and Avro jars from Maven Central" >&2
  rm -rf "$libs"
  mkdir -p "$libs"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$libs" -DincludeScope=runtime >&2
  echo "$want" > "$stamp"
fi
sources=$(cd "$here" && find src -name '*.java' | sort)
hash=$( (cd "$here" && cat $sources; echo "$want") | sha256sum | cut -c1-16)
classes="$out/classes-$hash"
if [ ! -f "$classes/.built" ]; then
  rm -rf "$classes.tmp"
  mkdir -p "$classes.tmp"
  (cd "$here" && javac -nowarn --release 17 -cp "$libs/*" -d "$classes.tmp" $sources) >&2
  touch "$classes.tmp/.built"
  rm -rf "$classes"
  mv "$classes.tmp" "$classes"
fi
echo "$classes:$libs/*"

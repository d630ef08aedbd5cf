#!/usr/bin/env bash
# Installs what gridstream needs on a fresh Debian machine of this kind, and nothing twice.
set -euo pipefail
cd "$(dirname "$0")/.."

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "gridstream needs Node.js 20 or newer (found $(node --version))" >&2
  exit 1
fi

# Debian packages: the build libraries @confluentinc/kafka-javascript links against (it cannot download
# its prebuilt binary here), the services the distributed-mode tests run for real, and Debian's Chromium
# (with a font) that the console's browser tests drive (playwright-core downloads no browser). Installed only when
# one is missing, so a warm machine skips apt entirely.
packages=(zlib1g-dev libssl-dev libzstd-dev liblz4-dev libsasl2-dev pkg-config make g++ python3
  mosquitto mosquitto-clients clickhouse-server clickhouse-client prometheus kcat maven openjdk-17-jre-headless wrk
  chromium fonts-dejavu-core)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== apt-get install ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# librdkafka is built from source against the Debian libraries above.
export CKJS_LINKING=dynamic

# npm ci also builds the TypeScript (the prepare script); skip it when the lock file has not changed.
stamp=node_modules/.gridstream-installed
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "== npm ci"
  npm ci --no-audit --no-fund
  cp package-lock.json "$stamp"
else
  npm run --silent build
fi

# Python tools of the OpenAPI conformance tests (test/integration/security/openapi.test.ts): the Schemathesis
# fuzzer and openapi-spec-validator, for this user, pinned; skipped when those versions are there.
python_tools=(schemathesis==4.32.5 openapi-spec-validator==0.9.0)
if ! python3 - "${python_tools[@]}" <<'PY' 2>/dev/null; then
import sys
from importlib.metadata import version
sys.exit(any(version(name) != wanted for name, wanted in (t.split("==") for t in sys.argv[1:])))
PY
  echo "== pip install --user ${python_tools[*]}"
  # A Debian-managed python3 refuses even --user installs without the override; a user install is what is meant.
  PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --user --quiet --disable-pip-version-check "${python_tools[@]}"
fi

#!/usr/bin/env bash
# Installs what gridstream needs on a fresh Debian machine of this kind, and nothing twice.
set -euo pipefail
cd "$(dirname "$0")/.."

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "gridstream needs Node.js 20 or newer (found $(node --version))" >&2
  exit 1
fi

# npm ci also builds the TypeScript (the prepare script); skip it when the lock file has not changed.
stamp=node_modules/.gridstream-installed
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "== npm ci"
  npm ci --no-audit --no-fund
  cp package-lock.json "$stamp"
else
  npm run --silent build
fi

#!/usr/bin/env bash
# The guide's operational script: ./scripts/postgres-ops.sh status | backup NAME | monitor | connect |
# snapshot NAME | list-backups | restore FILE (and every other postgres-ops command).
# Builds the TypeScript package first when dist/ is missing or older than src/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
main="$root/dist/ops/main.js"
if ! command -v node >/dev/null 2>&1; then
  echo "error: node (>= 20) is not installed" >&2
  echo "hint: install Node.js 20 or newer (https://nodejs.org) and run this again" >&2
  exit 1
fi
if [ ! -f "$main" ] || [ -n "$(find "$root/src" -newer "$main" -name '*.ts' -print -quit 2>/dev/null)" ]; then
  if [ ! -d "$root/node_modules" ]; then
    echo "installing dependencies (npm ci)..." >&2
    (cd "$root" && npm ci --no-audit --no-fund >&2)
  fi
  echo "building postgres-ops..." >&2
  log="$(mktemp)"
  (cd "$root" && npx tsc -p tsconfig.build.json >"$log" 2>&1) || {
    # tsc still emits JavaScript when only types are wrong; refuse only when nothing runnable exists.
    [ -f "$main" ] || { cat "$log" >&2; echo "error: the build failed" >&2; rm -f "$log"; exit 1; }
  }
  rm -f "$log"
  touch "$main"
fi
exec node "$main" "$@"

#!/usr/bin/env bash
# Installs the system packages the tests and the local mode need on a Debian machine, skipping what
# is already there: PostgreSQL 15 server binaries, Patroni, etcd, pgBackRest, promtool,
# postgres_exporter, unzip. Run as root (or with sudo). Safe to re-run.
set -euo pipefail

need=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql-15)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client-15)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-postgres-exporter >/dev/null 2>&1 || command -v postgres_exporter >/dev/null 2>&1 || need+=(prometheus-postgres-exporter)
command -v unzip >/dev/null 2>&1 || need+=(unzip)
command -v patroni >/dev/null 2>&1 || need+=(patroni)
# Patroni's etcd3 store module imports python3-etcd; local mode runs a single-node etcd.
/usr/bin/python3 -c 'import etcd' >/dev/null 2>&1 || need+=(python3-etcd)
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v pgbackrest >/dev/null 2>&1 || need+=(pgbackrest)
command -v runuser >/dev/null 2>&1 || need+=(util-linux)

if [ ${#need[@]} -eq 0 ]; then
  echo "system dependencies: all present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then exec sudo "$0" "$@"; fi
  echo "error: missing ${need[*]}; run this script as root" >&2
  exit 1
fi

echo "installing: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The Debian packages start services of their own; tests start their own servers, so keep the
# packaged ones from starting (and from taking port 5432 or 9187).
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -qq --no-install-recommends "${need[@]}"
echo "system dependencies installed"

#!/usr/bin/env bash
# Install Debian's PostgreSQL server binaries for the PostgreSQL tests, when missing.
# The tests start their own server (initdb + postgres on a free loopback port, in a temporary
# directory, as the 'postgres' OS user; tests/pg_server.py), so no cluster is created or
# started here: Debian's package would otherwise create and start one on port 5432.
set -euo pipefail
if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "PostgreSQL is missing and cannot be installed here (need root and apt-get)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
mkdir -p /etc/postgresql-common
if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
  echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
fi
apt-get update -qq >/dev/null
apt-get install -y -qq postgresql >/dev/null
ls /usr/lib/postgresql/*/bin/initdb >/dev/null

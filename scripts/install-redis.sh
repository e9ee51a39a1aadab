#!/usr/bin/env bash
# Install Debian's redis-server for the shared-state tests (tests/test_shared_state_redis.py),
# when missing. The tests start their own redis-server on a free loopback port with a temporary
# directory and stop it; nothing is started here (and Debian's own service is not needed).
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "redis-server is missing and cannot be installed here (need root and apt-get)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq redis-server >/dev/null

#!/usr/bin/env bash
# Starts the services the tests use, when they are not already up, and waits until each answers:
#   PostgreSQL on 127.0.0.1:5432 (trust auth for local TCP, user postgres, database "test")
#   Redis on 127.0.0.1:6379 (no persistence)
# Installs Debian's packages first when a server is missing and we are root. Exits non-zero with a message saying what
# is missing otherwise. Safe to run again: does nothing for a service that already answers.
#
#   bash scripts/start-services.sh            # both
#   bash scripts/start-services.sh postgres   # one
set -euo pipefail

want=("$@")
((${#want[@]})) || want=(postgres redis)

as_root() {
  if [[ "$(id -u)" == 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else
    echo "start-services: not root and no sudo: cannot run $*" >&2
    return 1
  fi
}

apt_install() {
  as_root apt-get update -qq || true
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

wait_for() { # wait_for NAME CMD...: up to 30 s
  local name="$1"
  shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then
      echo "start-services: $name is up"
      return 0
    fi
    sleep 0.5
  done
  echo "start-services: $name did not come up within 30 s" >&2
  return 1
}

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
pg_has_test_db() { psql -h 127.0.0.1 -U postgres -d test -Atc 'select 1' 2>/dev/null | grep -qx 1; }

start_postgres() {
  if pg_up && pg_has_test_db; then
    echo "start-services: PostgreSQL already up (127.0.0.1:5432, database test)"
    return 0
  fi
  if ! pg_up; then
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
      echo "start-services: installing Debian's postgresql" >&2
      apt_install postgresql postgresql-client
    fi
    local version
    version="$(ls /etc/postgresql | sort -V | tail -n1)"
    local conf="/etc/postgresql/$version/main"
    # Trust auth on loopback for the tests (the machine's cluster is set up this way; a fresh one is not).
    if ! grep -qE '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$conf/pg_hba.conf"; then
      as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$conf/pg_hba.conf"
    fi
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_for PostgreSQL pg_up
  fi
  if ! pg_has_test_db; then
    psql -h 127.0.0.1 -U postgres -d postgres -qc 'create database test' >&2
  fi
  pg_has_test_db || { echo "start-services: database test is not reachable as user postgres" >&2; return 1; }
}

redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -qx PONG; }

start_redis() {
  if redis_up; then
    echo "start-services: Redis already up (127.0.0.1:6379)"
    return 0
  fi
  if ! command -v redis-server >/dev/null; then
    echo "start-services: installing Debian's redis-server" >&2
    apt_install redis-server
  fi
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >&2
  wait_for Redis redis_up
}

for s in "${want[@]}"; do
  case "$s" in
    postgres) start_postgres ;;
    redis) start_redis ;;
    *) echo "start-services: unknown service '$s' (postgres, redis)" >&2; exit 2 ;;
  esac
done

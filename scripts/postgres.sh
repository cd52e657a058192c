#!/usr/bin/env bash
# PostgreSQL for the tests: use the server on 127.0.0.1:5432 when one answers, otherwise install
# Debian's and start a cluster. Sourced by test.sh; defines postgres_ready and postgres_fresh_db.

postgres_ready() {
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    apt_install postgresql
    local version; version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
    if [ -z "$version" ]; then
      version=$(ls /usr/lib/postgresql | sort -V | tail -1)
      $SUDO pg_createcluster "$version" main
    fi
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || $SUDO pg_ctlcluster "$version" main start
    for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
    # A fresh Debian cluster wants a password over TCP.
    $SUDO su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
  fi
  if psql "postgres://postgres@127.0.0.1:5432/postgres" -qAtc 'SELECT 1' >/dev/null 2>&1; then
    PG_ADMIN_URL="postgres://postgres@127.0.0.1:5432/postgres"
  else
    PG_ADMIN_URL="postgres://postgres:postgres@127.0.0.1:5432/postgres"
  fi
  export PG_ADMIN_URL
  # Databases left by earlier runs.
  psql "$PG_ADMIN_URL" -qAtc "SELECT datname FROM pg_database WHERE datname LIKE 'rekomi\_test\_%' OR datname LIKE 'rekomi\_e2e%'" |
    while read -r db; do psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS \"$db\"" >/dev/null; done
}

# Prints the URL of a new, empty database.
postgres_fresh_db() {
  local name="$1_$$_$RANDOM"
  psql "$PG_ADMIN_URL" -qc "CREATE DATABASE $name" >/dev/null
  echo "${PG_ADMIN_URL%/*}/$name"
}

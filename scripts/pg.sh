#!/usr/bin/env bash
# A local PostgreSQL cluster for development and tests, managed with Debian's postgresql-common.
# Used by the Makefile (pg-up/pg-down) and the test fixtures.
#
#   scripts/pg.sh up      install the server if absent, create/start the cluster on 127.0.0.1,
#                         create role+database (idempotent); reuses a server already on the port
#   scripts/pg.sh down    stop that cluster (fast shutdown; data kept)
#   scripts/pg.sh clean   stop and drop the cluster
#   scripts/pg.sh status  exit 0 when the port accepts connections, 3 otherwise
#   scripts/pg.sh url     print the SQLAlchemy URL of the database
#
# Environment (all optional):
#   PG_HOST (127.0.0.1)  PG_PORT (15432)  PG_CLUSTER (enricher)  PG_VERSION (newest installed)
#   PG_USER (enricher)  PG_PASSWORD (enricher)  PG_DB (enricher)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

PG_HOST="${PG_HOST:-127.0.0.1}"
PG_PORT="${PG_PORT:-15432}"
PG_CLUSTER="${PG_CLUSTER:-enricher}"
PG_USER="${PG_USER:-enricher}"
PG_PASSWORD="${PG_PASSWORD:-enricher}"
PG_DB="${PG_DB:-enricher}"
SUDO=""
[[ "$(id -u)" == 0 ]] || SUDO="sudo"

log() { printf 'pg: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

server_version() { # newest installed server major version, or nothing
  local bin
  for bin in /usr/lib/postgresql/*/bin/postgres; do
    [[ -x "$bin" ]] && basename "$(dirname "$(dirname "$bin")")"
  done | sort -n | tail -n 1
}

install_server() {
  [[ -n "$(server_version)" ]] && command -v pg_ctlcluster >/dev/null && return 0
  log "installing Debian's postgresql package"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >&2
  [[ -n "$(server_version)" ]] || die "postgresql installed but no server binary found"
}

cluster_field() { # cluster_field N: column N of pg_lsclusters for our cluster (3=port, 4=status)
  pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" -v n="$1" '$1 == v && $2 == c { print $n }'
}

accepting() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 1 >/dev/null 2>&1; }

as_postgres() { # run psql as the cluster's superuser over the local socket
  $SUDO runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -h /var/run/postgresql -d postgres "$@"
}

ensure_role_and_db() {
  as_postgres -v user="$PG_USER" -v pass="$PG_PASSWORD" -v db="$PG_DB" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', :'user', :'pass')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'user') \gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', :'user', :'pass') \gexec
-- lets the test suite drop its scratch databases WITH (FORCE) even while autovacuum works in them
SELECT format('GRANT pg_signal_backend TO %I', :'user') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'user')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SQL
}

can_login() {
  PGPASSWORD="$PG_PASSWORD" psql -X -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -c 'SELECT 1' >/dev/null 2>&1
}

create_cluster() {
  log "creating cluster $PG_VERSION/$PG_CLUSTER on $PG_HOST:$PG_PORT"
  $SUDO pg_createcluster "$PG_VERSION" "$PG_CLUSTER" -p "$PG_PORT" --start-conf=manual \
    -- --auth-local=peer --auth-host=scram-sha-256 >&2
}

write_config() { # (re)install our settings; a change takes effect at the next start
  local confd="/etc/postgresql/$PG_VERSION/$PG_CLUSTER/conf.d"
  $SUDO mkdir -p "$confd"
  sed -e "s|@HOST@|$PG_HOST|g" -e "s|@PORT@|$PG_PORT|g" "$REPO/deploy/postgres/postgresql.conf.in" \
    | $SUDO tee "$confd/enricher.conf" >/dev/null
}

up() {
  local t0 port status
  t0="$(now)"
  install_server
  PG_VERSION="${PG_VERSION:-$(server_version)}"
  port="$(cluster_field 3)"
  if [[ -z "$port" ]]; then
    if accepting; then
      can_login || die "a server on $PG_HOST:$PG_PORT does not accept $PG_USER/$PG_DB (not cluster $PG_CLUSTER)"
      log "a PostgreSQL server not managed as cluster $PG_CLUSTER answers on $PG_HOST:$PG_PORT: reusing it"
      return 0
    fi
    create_cluster
  elif [[ "$port" != "$PG_PORT" ]]; then
    die "cluster $PG_VERSION/$PG_CLUSTER exists on port $port, not $PG_PORT (set PG_CLUSTER or PG_PORT)"
  fi
  status="$(cluster_field 4)"
  if [[ "$status" != online* ]]; then
    write_config
    accepting && die "port $PG_PORT is taken by another server (set PG_PORT)"
    $SUDO mkdir -p /var/run/postgresql
    $SUDO chown postgres:postgres /var/run/postgresql
    $SUDO pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start >&2 9>&-  # the server must not inherit the lock
  fi
  local i
  for ((i = 0; i < 120; i++)); do
    accepting && break
    sleep 0.25
  done
  accepting || die "cluster $PG_VERSION/$PG_CLUSTER does not accept connections on $PG_HOST:$PG_PORT"
  ensure_role_and_db
  can_login || die "cannot log in as $PG_USER to $PG_DB on $PG_HOST:$PG_PORT"
  log "up on $PG_HOST:$PG_PORT (cluster $PG_VERSION/$PG_CLUSTER) in $(elapsed "$t0") s"
}

down() {
  command -v pg_lsclusters >/dev/null || { log "postgresql-common not installed: nothing to stop"; return 0; }
  PG_VERSION="${PG_VERSION:-$(server_version)}"
  local status
  status="$(cluster_field 4)"
  if [[ "$status" == online* ]]; then
    $SUDO pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" stop -m fast >&2
    log "stopped cluster $PG_VERSION/$PG_CLUSTER (data kept)"
  else
    log "cluster $PG_VERSION/$PG_CLUSTER is not running"
  fi
}

clean() {
  down
  if [[ -n "$(cluster_field 3)" ]]; then
    $SUDO pg_dropcluster "$PG_VERSION" "$PG_CLUSTER" >&2
    log "dropped cluster $PG_VERSION/$PG_CLUSTER"
  fi
}

status() {
  if accepting; then
    log "accepting connections on $PG_HOST:$PG_PORT"
    return 0
  fi
  log "nothing accepts connections on $PG_HOST:$PG_PORT"
  return 3
}

with_lock() { # serialize concurrent up/down (make and pytest may race)
  local lock="${TMPDIR:-/tmp}/enricher-pg-$PG_PORT.lock"
  exec 9>"$lock"
  flock 9
  "$@"
}

case "${1:-}" in
  up) with_lock up ;;
  down) with_lock down ;;
  clean) with_lock clean ;;
  status) status ;;
  url) echo "postgresql+asyncpg://$PG_USER:$PG_PASSWORD@$PG_HOST:$PG_PORT/$PG_DB" ;;
  *)
    echo "usage: $0 up|down|clean|status|url" >&2
    exit 2
    ;;
esac

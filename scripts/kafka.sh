#!/usr/bin/env bash
# A local, single-node Apache Kafka broker (KRaft, combined broker+controller) assembled from
# Maven Central jars. Used by the Makefile (kafka-up/-down/-restart/-clean) and by the test
# fixtures, so both bring the broker up the same way.
#
#   scripts/kafka.sh fetch     jars into $KAFKA_LIBS_DIR (once; again only when the pom changes)
#   scripts/kafka.sh up        format storage if new, start in the background, wait until a real
#                              metadata round-trip answers; reuses a broker already up on the port
#   scripts/kafka.sh down      stop the broker this run dir started (SIGTERM, wait, SIGKILL); keeps data
#   scripts/kafka.sh restart   down + up, keeping data (for fault tests)
#   scripts/kafka.sh clean     down + wipe the run dir (data, logs, config)
#   scripts/kafka.sh status    exit 0 when a broker answers on the port, 3 otherwise
#
# Environment (all optional):
#   KAFKA_HOST (127.0.0.1)  KAFKA_PORT (19092)  KAFKA_CONTROLLER_PORT (KAFKA_PORT+1)
#   KAFKA_HOME (<repo>/.kafka)  KAFKA_LIBS_DIR ($KAFKA_HOME/libs)
#   KAFKA_RUN_DIR ($KAFKA_HOME/run-$KAFKA_PORT: server.properties, data/, server.log, kafka.pid)
#   KAFKA_HEAP_OPTS (-Xms256m -Xmx768m)  KAFKA_JVM_OPTS (SerialGC ...)  JAVA (java)
#   KAFKA_PYTHON (a python with confluent-kafka; default <repo>/.venv/bin/python)
#   KAFKA_START_TIMEOUT (90 s)  KAFKA_STOP_TIMEOUT (30 s)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA_HOST="${KAFKA_HOST:-127.0.0.1}"
KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
KAFKA_HOME="${KAFKA_HOME:-$REPO/.kafka}"
KAFKA_LIBS_DIR="${KAFKA_LIBS_DIR:-$KAFKA_HOME/libs}"
KAFKA_RUN_DIR="${KAFKA_RUN_DIR:-$KAFKA_HOME/run-$KAFKA_PORT}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}"
KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:--XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
JAVA="${JAVA:-java}"
POM="$REPO/deploy/kafka/pom.xml"
if [[ -z "${KAFKA_PYTHON:-}" ]]; then
  if [[ -x "$REPO/.venv/bin/python" ]]; then KAFKA_PYTHON="$REPO/.venv/bin/python"; else KAFKA_PYTHON=python3; fi
fi

mkdir -p "$KAFKA_HOME"
KAFKA_HOME="$(cd "$KAFKA_HOME" && pwd)"
case "$KAFKA_RUN_DIR" in /*) ;; *) KAFKA_RUN_DIR="$PWD/$KAFKA_RUN_DIR" ;; esac
case "$KAFKA_LIBS_DIR" in /*) ;; *) KAFKA_LIBS_DIR="$PWD/$KAFKA_LIBS_DIR" ;; esac
DATA_DIR="$KAFKA_RUN_DIR/data"
PID_FILE="$KAFKA_RUN_DIR/kafka.pid"
LOG_FILE="$KAFKA_RUN_DIR/server.log"
CONFIG="$KAFKA_RUN_DIR/server.properties"
BOOTSTRAP="$KAFKA_HOST:$KAFKA_PORT"

log() { printf 'kafka: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

now() { date +%s.%N; }

apt_install() { # a missing tool on a fresh Debian machine
  local sudo=""
  [[ "$(id -u)" == 0 ]] || sudo="sudo"
  log "installing Debian package(s) $*"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2
}
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

probe() { # probe TIMEOUT [PID]: a metadata round-trip with confluent-kafka
  local args=(--bootstrap "$BOOTSTRAP" --timeout "$1")
  [[ -n "${2:-}" ]] && args+=(--pid "$2")
  "$KAFKA_PYTHON" "$REPO/scripts/kafka_probe.py" "${args[@]}"
}

port_open() { # port_open PORT: something accepts TCP connections there
  (exec 3<>"/dev/tcp/$KAFKA_HOST/$1") 2>/dev/null
}

our_pid() { # prints the PID from the PID file when it is a live broker of this run dir
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(tr -dc '0-9' <"$PID_FILE")"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  # a recycled PID belongs to some other program: check it is our java with our config
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "kafka.Kafka $CONFIG" || return 1
  echo "$pid"
}

fetch() {
  local want have=""
  want="$(sha256sum "$POM" | cut -d' ' -f1)"
  [[ -f "$KAFKA_LIBS_DIR/.pom.sha256" ]] && have="$(cat "$KAFKA_LIBS_DIR/.pom.sha256")"
  if [[ "$want" == "$have" ]] && compgen -G "$KAFKA_LIBS_DIR/kafka_2.13-*.jar" >/dev/null; then
    return 0
  fi
  command -v mvn >/dev/null || apt_install maven
  local t0 tmp
  t0="$(now)"
  tmp="$KAFKA_LIBS_DIR.tmp.$$"
  rm -rf "$tmp"
  log "fetching broker jars from Maven Central into $KAFKA_LIBS_DIR"
  if ! mvn -B -q -f "$POM" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
    >"$KAFKA_HOME/fetch.log" 2>&1; then
    cat "$KAFKA_HOME/fetch.log" >&2
    rm -rf "$tmp"
    die "mvn could not resolve $POM"
  fi
  echo "$want" >"$tmp/.pom.sha256"
  rm -rf "$KAFKA_LIBS_DIR"
  mv "$tmp" "$KAFKA_LIBS_DIR"
  log "fetched $(find "$KAFKA_LIBS_DIR" -name '*.jar' | wc -l) jars ($(du -sh "$KAFKA_LIBS_DIR" | cut -f1)) in $(elapsed "$t0") s"
}

write_config() {
  mkdir -p "$KAFKA_RUN_DIR"
  sed -e "s|@HOST@|$KAFKA_HOST|g" -e "s|@PORT@|$KAFKA_PORT|g" \
      -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" -e "s|@DATA_DIR@|$DATA_DIR|g" \
      "$REPO/deploy/kafka/server.properties.in" >"$CONFIG.tmp"
  if [[ -n "${KAFKA_EXTRA_CONFIG:-}" ]]; then printf '%s\n' "$KAFKA_EXTRA_CONFIG" >>"$CONFIG.tmp"; fi
  mv "$CONFIG.tmp" "$CONFIG"
}

java_cmd() { # java_cmd MAINCLASS ARGS...
  # shellcheck disable=SC2086  # the option strings are word lists on purpose
  "$JAVA" $KAFKA_HEAP_OPTS $KAFKA_JVM_OPTS \
    -Dlog4j2.configurationFile="file:$REPO/deploy/kafka/log4j2.properties" \
    -cp "$KAFKA_LIBS_DIR/*" "$@"
}

format_storage() {
  [[ -f "$DATA_DIR/meta.properties" ]] && return 0
  local cid
  # a Kafka Uuid: 16 random bytes, base64url without padding
  cid="$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
  log "formatting $DATA_DIR (cluster id $cid)"
  java_cmd kafka.tools.StorageTool format -t "$cid" -c "$CONFIG" --ignore-formatted >"$KAFKA_RUN_DIR/format.log" 2>&1 \
    || { cat "$KAFKA_RUN_DIR/format.log" >&2; die "storage format failed"; }
}

up() {
  local t0 pid
  t0="$(now)"
  fetch
  if pid="$(our_pid)"; then
    probe "$KAFKA_START_TIMEOUT" "$pid" >/dev/null || die "broker pid $pid does not answer on $BOOTSTRAP; see $LOG_FILE"
    log "already up on $BOOTSTRAP (pid $pid)"
    return 0
  fi
  if [[ -f "$PID_FILE" ]]; then
    log "removing stale pid file $PID_FILE"
    rm -f "$PID_FILE"
  fi
  if port_open "$KAFKA_PORT"; then
    if probe 10 >/dev/null; then
      log "a Kafka broker not started from $KAFKA_RUN_DIR already answers on $BOOTSTRAP: reusing it"
      return 0
    fi
    die "port $KAFKA_PORT is taken by something that is not a Kafka broker"
  fi
  port_open "$KAFKA_CONTROLLER_PORT" && die "controller port $KAFKA_CONTROLLER_PORT is taken (set KAFKA_CONTROLLER_PORT)"
  command -v "$JAVA" >/dev/null || apt_install openjdk-17-jre-headless
  "$JAVA" -version 2>&1 | grep -qE 'version "(1[7-9]|[2-9][0-9])' || die "Kafka 4 needs Java 17+ ($JAVA)"
  write_config
  format_storage
  [[ -f "$LOG_FILE" ]] && mv -f "$LOG_FILE" "$LOG_FILE.prev"
  # setsid: the broker outlives the make/pytest process that started it and ignores its Ctrl-C
  setsid "$JAVA" $KAFKA_HEAP_OPTS $KAFKA_JVM_OPTS \
    -Dlog4j2.configurationFile="file:$REPO/deploy/kafka/log4j2.properties" \
    -cp "$KAFKA_LIBS_DIR/*" kafka.Kafka "$CONFIG" >"$LOG_FILE" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid" >"$PID_FILE"
  if ! probe "$KAFKA_START_TIMEOUT" "$pid" >/dev/null; then
    tail -n 40 "$LOG_FILE" >&2 || true
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$PID_FILE"
    die "broker did not become ready on $BOOTSTRAP within ${KAFKA_START_TIMEOUT}s (log: $LOG_FILE)"
  fi
  log "up on $BOOTSTRAP (pid $pid, data $DATA_DIR) in $(elapsed "$t0") s"
}

down() {
  local pid i t0
  t0="$(now)"
  if ! pid="$(our_pid)"; then
    if [[ -f "$PID_FILE" ]]; then
      log "removing stale pid file $PID_FILE"
      rm -f "$PID_FILE"
    fi
    log "not running from $KAFKA_RUN_DIR"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < KAFKA_STOP_TIMEOUT * 4; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid still alive after ${KAFKA_STOP_TIMEOUT}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$PID_FILE"
  log "stopped pid $pid in $(elapsed "$t0") s (data kept in $DATA_DIR)"
}

clean() {
  down
  rm -rf "$KAFKA_RUN_DIR"
  log "wiped $KAFKA_RUN_DIR"
}

status() {
  local pid
  if pid="$(our_pid)"; then
    log "running from $KAFKA_RUN_DIR (pid $pid) on $BOOTSTRAP"
    return 0
  fi
  if port_open "$KAFKA_PORT" && probe 5 >/dev/null 2>&1; then
    log "a broker not started from $KAFKA_RUN_DIR answers on $BOOTSTRAP"
    return 0
  fi
  log "no broker on $BOOTSTRAP"
  return 3
}

with_lock() { # serialize up/down/restart/clean of one run dir (make and pytest may race)
  mkdir -p "$KAFKA_RUN_DIR"
  exec 9>"$KAFKA_RUN_DIR/.lock"
  flock 9
  "$@"
}

case "${1:-}" in
  fetch) fetch ;;
  up) with_lock up ;;
  down) with_lock down ;;
  restart) with_lock down && with_lock up ;;
  clean) with_lock clean ;;
  status) status ;;
  *)
    echo "usage: $0 fetch|up|down|restart|clean|status" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft, combined broker+controller) on 127.0.0.1 for local
# runs, tests and CI. No Docker: the broker runs from Apache Kafka's jars on Maven Central,
# resolved once into a cache directory by Maven (deploy/local/kafka-pom.xml pins the version).
#
#   kafka.sh start    fetch if needed, format storage if new, start, wait until it answers
#                     (idempotent: a running broker is left as it is)
#   kafka.sh stop     stop the broker this script started (SIGTERM, SIGKILL after a timeout)
#   kafka.sh status   exit 0: a Kafka broker answers on the port (ours or another one)
#                     exit 1: our broker process is up but does not answer (yet)
#                     exit 3: nothing answers
#   kafka.sh wipe     stop, then delete the broker's data and logs (the jar cache stays)
#   kafka.sh fetch    only download the jars into the cache
#   kafka.sh release  end the lease of TRACKWIRE_KAFKA_OWNER_PID (see below)
#
# Leases, for test runs: `start` with TRACKWIRE_KAFKA_OWNER_PID=<pid> takes a lease for that
# process. A broker that a leased start launched stops when its last lease ends: on `release`,
# or, when the owner process dies however it dies, within a second (a watchdog checks). Several
# test runs at once share one broker that way. A broker started without a lease (by hand) is
# never stopped by a test run; neither is a broker that this script did not start.
#
# Environment:
#   TRACKWIRE_KAFKA_PORT             client port on 127.0.0.1 (default 9092)
#   TRACKWIRE_KAFKA_CONTROLLER_PORT  KRaft controller port (default: client port + 1)
#   TRACKWIRE_CACHE_DIR              jar cache (default $REPO/.cache)
#   TRACKWIRE_KAFKA_DATA_DIR         data, config, pid and log files (default $REPO/var/kafka)
#   TRACKWIRE_KAFKA_HEAP_OPTS        JVM heap (default "-Xms256m -Xmx512m")
#   TRACKWIRE_KAFKA_START_TIMEOUT    seconds to wait for the broker to answer (default 90)
#   TRACKWIRE_KAFKA_STOP_TIMEOUT     seconds to wait after SIGTERM before SIGKILL (default 30)
#   TRACKWIRE_KAFKA_VERSION          override the pinned Kafka version (one-off tests only)
#   TRACKWIRE_MAVEN_REPO             Maven local repository (default: Maven's own, ~/.m2)
#   TRACKWIRE_KAFKA_OWNER_PID        start/release: the process holding a lease (the test
#                                    fixture passes its own pid)
#   JAVA_HOME                        Java 17 or newer (default: java on PATH)
#
# Secured listeners, opt-in (as production clusters have them; tests/security uses them). The
# PLAINTEXT listener above stays for the controller, the broker itself and `status`.
#   TRACKWIRE_KAFKA_SASL_SSL_PORT      also listen for SASL_SSL clients on 127.0.0.1:<port>
#                                      (SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN)
#   TRACKWIRE_KAFKA_SSL_PORT           also listen for SSL clients on 127.0.0.1:<port>; they must
#                                      present a certificate signed by a CA in the truststore (mTLS)
#   TRACKWIRE_KAFKA_SSL_KEYSTORE       the broker's key and certificate, PKCS12 (needed by both)
#   TRACKWIRE_KAFKA_SSL_KEYSTORE_PASSWORD
#   TRACKWIRE_KAFKA_SSL_TRUSTSTORE     the CA of client certificates (SSL listener): a PEM file
#                                      (*.pem, *.crt) or PKCS12 with ..._TRUSTSTORE_PASSWORD
#   TRACKWIRE_KAFKA_SSL_TRUSTSTORE_PASSWORD
#   TRACKWIRE_KAFKA_SASL_USERS         "name:password[,name:password...]": SCRAM credentials (both
#                                      SHA-256 and SHA-512) created when the storage is formatted
#                                      (a new data directory: wipe to change them), and PLAIN users
#                                      (written into the config on every start). Names and passwords
#                                      must not hold , : = [ ] " or spaces.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SCRIPT="$REPO/deploy/local/kafka.sh"
POM="$REPO/deploy/local/kafka-pom.xml"
PORT=${TRACKWIRE_KAFKA_PORT:-9092}
CONTROLLER_PORT=${TRACKWIRE_KAFKA_CONTROLLER_PORT:-$((PORT + 1))}
CACHE_DIR=${TRACKWIRE_CACHE_DIR:-$REPO/.cache}
DATA_DIR=${TRACKWIRE_KAFKA_DATA_DIR:-$REPO/var/kafka}
HEAP_OPTS=${TRACKWIRE_KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
START_TIMEOUT=${TRACKWIRE_KAFKA_START_TIMEOUT:-90}
STOP_TIMEOUT=${TRACKWIRE_KAFKA_STOP_TIMEOUT:-30}
VERSION=${TRACKWIRE_KAFKA_VERSION:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")}
JARS_DIR="$CACHE_DIR/kafka-$VERSION/jars"
PID_FILE="$DATA_DIR/kafka.pid"
PORT_FILE="$DATA_DIR/kafka.port"
CONFIG="$DATA_DIR/server.properties"
LOG_DIR="$DATA_DIR/logs"  # server.log (log4j) and kafka.out (the JVM's stdout/stderr)
LOG_DIRS="$DATA_DIR/data" # Kafka's log.dirs: the partitions and the KRaft metadata log
LEASES="$DATA_DIR/leases" # one empty file per lease holder's pid
LEASED="$DATA_DIR/leased" # exists while the running broker was started by a leased start
SASL_SSL_PORT=${TRACKWIRE_KAFKA_SASL_SSL_PORT:-}
SSL_PORT=${TRACKWIRE_KAFKA_SSL_PORT:-}
SASL_USERS=${TRACKWIRE_KAFKA_SASL_USERS:-}

say() { printf 'kafka.sh: %s\n' "$*"; }
die() { printf 'kafka.sh: error: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }
seconds_since() { local ms=$(($(now_ms) - $1)); printf '%d.%01d' $((ms / 1000)) $((ms % 1000 / 100)); }

java_bin() {
  if [[ -n "${JAVA_HOME:-}" ]]; then echo "$JAVA_HOME/bin/java"; else command -v java || true; fi
}

check_java() {
  local java major
  java=$(java_bin)
  [[ -n "$java" && -x "$java" ]] || die "java not found: install Java 17+ or set JAVA_HOME"
  major=$("$java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
  [[ "${major%%.*}" -ge 17 ]] 2>/dev/null || die "Kafka $VERSION needs Java 17+, $java is ${major:-unknown}"
}

# Does a Kafka broker answer on 127.0.0.1:$1? Sends an ApiVersions v0 request (correlation id 7)
# and checks the response header: only a broker that serves requests answers it, so an open port
# alone (a broker still starting, or another program) does not count.
kafka_answers() {
  local reply
  # shellcheck disable=SC2016 # the inner script takes the port as $1
  reply=$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x07\xff\xff" >&3
    head -c 8 <&3 | od -An -tx1' _ "$1" 2>/dev/null) || return 1
  reply=${reply//[[:space:]]/}
  [[ ${#reply} -eq 16 && ${reply:8:8} == 00000007 ]]
}

# shellcheck disable=SC2016 # the inner script takes the port as $1
port_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

# The pid of the broker this script started from $DATA_DIR, if that process is still alive.
our_pid() {
  local pid
  [[ -f "$PID_FILE" ]] || return 1
  pid=$(<"$PID_FILE")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  # The pid file may be stale and the pid reused: check it is our java running kafka.Kafka.
  tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q "kafka.Kafka $CONFIG" || return 1
  echo "$pid"
}

our_port() { cat "$PORT_FILE" 2>/dev/null || echo "$PORT"; }

cmd_fetch() {
  if [[ -f "$JARS_DIR/.complete" ]]; then
    say "Kafka $VERSION jars already in $JARS_DIR"
    return
  fi
  command -v mvn >/dev/null || die "mvn not found: install Maven (Debian: apt-get install maven)"
  local t0 tmp
  t0=$(now_ms)
  tmp="$JARS_DIR.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  say "fetching Kafka $VERSION and its runtime dependencies from Maven Central into $JARS_DIR"
  local -a mvn_args=(-q -B -f "$POM" dependency:copy-dependencies
    "-Dkafka.version=$VERSION" -DincludeScope=runtime "-DoutputDirectory=$tmp")
  [[ -n "${TRACKWIRE_MAVEN_REPO:-}" ]] && mvn_args+=("-Dmaven.repo.local=$TRACKWIRE_MAVEN_REPO")
  if ! mvn "${mvn_args[@]}" >"$tmp.log" 2>&1; then
    cat "$tmp.log" >&2
    rm -rf "$tmp" "$tmp.log"
    die "Maven could not resolve org.apache.kafka:kafka_2.13:$VERSION"
  fi
  rm -f "$tmp.log"
  ls "$tmp"/kafka_2.13-"$VERSION".jar >/dev/null 2>&1 || die "kafka_2.13-$VERSION.jar missing after fetch"
  touch "$tmp/.complete"
  if [[ -f "$JARS_DIR/.complete" ]]; then
    rm -rf "$tmp" # another fetch finished first; keep its jars (a broker may be using them)
  else
    rm -rf "$JARS_DIR"
    mv "$tmp" "$JARS_DIR"
  fi
  say "fetched $(find "$JARS_DIR" -name '*.jar' | wc -l) jars in $(seconds_since "$t0") s"
}

# "name:password,..." -> one name:password per line (check_sasl_users has checked them).
sasl_user_lines() { tr ',' '\n' <<<"$SASL_USERS"; }

check_sasl_users() {
  local entry re='^[^],:=["[:space:]]+:[^],:=["[:space:]]+$'
  [[ -n "$SASL_USERS" ]] || return 0
  while read -r entry; do
    [[ "$entry" =~ $re ]] \
      || die "TRACKWIRE_KAFKA_SASL_USERS: '${entry%%:*}:...' is not name:password (no , : = [ ] \" or spaces)"
  done < <(sasl_user_lines)
}

# Listener lines of the secured listeners (none unless their ports are set).
secured_config() {
  if [[ -z "$SASL_SSL_PORT$SSL_PORT" ]]; then return; fi
  [[ -n "${TRACKWIRE_KAFKA_SSL_KEYSTORE:-}" && -r "${TRACKWIRE_KAFKA_SSL_KEYSTORE}" ]] \
    || die "a secured listener needs TRACKWIRE_KAFKA_SSL_KEYSTORE (a readable PKCS12 file)"
  [[ -n "${TRACKWIRE_KAFKA_SSL_KEYSTORE_PASSWORD:-}" ]] || die "TRACKWIRE_KAFKA_SSL_KEYSTORE_PASSWORD is not set"
  echo "ssl.keystore.type=PKCS12"
  echo "ssl.keystore.location=$TRACKWIRE_KAFKA_SSL_KEYSTORE"
  echo "ssl.keystore.password=$TRACKWIRE_KAFKA_SSL_KEYSTORE_PASSWORD"
  if [[ -n "$SASL_SSL_PORT" ]]; then
    local line plain="org.apache.kafka.common.security.plain.PlainLoginModule required"
    [[ -n "$SASL_USERS" ]] || die "TRACKWIRE_KAFKA_SASL_SSL_PORT needs TRACKWIRE_KAFKA_SASL_USERS"
    while read -r line; do plain+=" user_${line%%:*}=\"${line#*:}\""; done < <(sasl_user_lines)
    echo "listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN"
    echo "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
    echo "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
    echo "listener.name.sasl_ssl.plain.sasl.jaas.config=$plain;"
  fi
  if [[ -n "$SSL_PORT" ]]; then
    [[ -n "${TRACKWIRE_KAFKA_SSL_TRUSTSTORE:-}" && -r "${TRACKWIRE_KAFKA_SSL_TRUSTSTORE}" ]] \
      || die "TRACKWIRE_KAFKA_SSL_PORT needs TRACKWIRE_KAFKA_SSL_TRUSTSTORE (a readable PEM or PKCS12 file)"
    echo "listener.name.ssl.ssl.client.auth=required"
    echo "listener.name.ssl.ssl.truststore.location=$TRACKWIRE_KAFKA_SSL_TRUSTSTORE"
    case "$TRACKWIRE_KAFKA_SSL_TRUSTSTORE" in
      *.pem | *.crt) echo "listener.name.ssl.ssl.truststore.type=PEM" ;;
      *)
        echo "listener.name.ssl.ssl.truststore.type=PKCS12"
        echo "listener.name.ssl.ssl.truststore.password=${TRACKWIRE_KAFKA_SSL_TRUSTSTORE_PASSWORD:-}"
        ;;
    esac
  fi
}

write_config() {
  mkdir -p "$LOG_DIR" "$LOG_DIRS"
  local listeners="PLAINTEXT://127.0.0.1:$PORT" secured
  [[ -n "$SASL_SSL_PORT" ]] && listeners+=",SASL_SSL://127.0.0.1:$SASL_SSL_PORT"
  [[ -n "$SSL_PORT" ]] && listeners+=",SSL://127.0.0.1:$SSL_PORT"
  secured=$(secured_config)
  cat >"$CONFIG" <<EOF
# Written by deploy/local/kafka.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=$listeners,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL
$secured
log.dirs=$LOG_DIRS
# Topics are created by \`trackwire topics\` / ensure_topics with their own configs, as in
# production: a typo in a topic name fails instead of creating a stray topic.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# A test's consumer group joins at once instead of after the default 3 s.
group.initial.rebalance.delay.ms=0
log.retention.check.interval.ms=60000
num.network.threads=2
num.io.threads=4
EOF
  chmod 600 "$CONFIG" # it may hold keystore and PLAIN passwords
  cat >"$DATA_DIR/log4j2.properties" <<EOF
status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = $LOG_DIR/server.log
appender.file.filePattern = $LOG_DIR/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 2
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.state.name = state.change.logger
logger.state.level = warn
EOF
}

format_storage() {
  [[ -f "$LOG_DIRS/meta.properties" ]] && return
  local cluster_id
  # A Kafka Uuid: 16 random bytes, URL-safe base64 without padding; never one that starts with "-"
  # (1 in 64): the storage tool reads it as an option and fails (as Kafka's own Uuid.randomUuid, draw again).
  cluster_id=-
  while [[ "$cluster_id" == -* ]]; do
    cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=' | cut -c1-22)
  done
  local line mechanism
  local -a scram=()
  # SCRAM credentials live in the cluster metadata: the storage tool writes them into its first records.
  if [[ -n "$SASL_USERS" ]]; then
    while read -r line; do
      for mechanism in SCRAM-SHA-512 SCRAM-SHA-256; do
        scram+=(--add-scram "$mechanism=[name=${line%%:*},password=${line#*:}]")
      done
    done < <(sasl_user_lines)
  fi
  say "formatting storage in $LOG_DIRS (cluster id $cluster_id)${SASL_USERS:+ with SCRAM users}"
  "$(java_bin)" -Xmx256m -cp "$JARS_DIR/*" -Dlog4j2.configurationFile="$DATA_DIR/log4j2.properties" \
    kafka.tools.StorageTool format -t "$cluster_id" -c "$CONFIG" "${scram[@]}" >"$LOG_DIR/format.out" 2>&1 \
    || { cat "$LOG_DIR/format.out" >&2; die "storage format failed"; }
  echo "$VERSION" >"$DATA_DIR/kafka.version"
}

check_data_version() {
  local formatted
  [[ -f "$DATA_DIR/kafka.version" ]] || return 0
  formatted=$(<"$DATA_DIR/kafka.version")
  [[ "$formatted" == "$VERSION" ]] \
    || die "$DATA_DIR was formatted by Kafka $formatted, this is $VERSION: run '$0 wipe' first (local data is disposable)"
}

# The number of live lease holders; leases of processes that ended are removed.
live_leases() {
  local file count=0
  for file in "$LEASES"/*; do
    [[ -e "$file" ]] || continue
    if kill -0 "${file##*/}" 2>/dev/null; then count=$((count + 1)); else rm -f "$file"; fi
  done
  echo "$count"
}

take_lease() {
  [[ -n "${TRACKWIRE_KAFKA_OWNER_PID:-}" ]] || return 0
  [[ "$TRACKWIRE_KAFKA_OWNER_PID" =~ ^[0-9]+$ ]] || die "TRACKWIRE_KAFKA_OWNER_PID is not a pid"
  mkdir -p "$LEASES"
  touch "$LEASES/$TRACKWIRE_KAFKA_OWNER_PID"
}

# Stop a leased broker that has no live lease left (called with the lock held).
stop_if_unleased() {
  [[ -f "$LEASED" ]] || return 0
  our_pid >/dev/null || return 0
  if [[ "$(live_leases)" -eq 0 ]]; then
    say "last lease ended: stopping the broker"
    cmd_stop
  fi
}

# Checks once a second whether the lease holders are still alive, so a test run that is killed
# leaves no broker behind. Ends with the broker.
start_watchdog() {
  local broker=$1
  # shellcheck disable=SC2016 # the inner script takes its values as $1..$3
  setsid nohup bash -c '
    broker=$1 leases=$2 script=$3
    while kill -0 "$broker" 2>/dev/null; do
      sleep 1
      for file in "$leases"/*; do
        [[ -e "$file" ]] && kill -0 "${file##*/}" 2>/dev/null && continue 2
      done
      "$script" _reap
    done
  ' _ "$broker" "$LEASES" "$SCRIPT" >>"$LOG_DIR/watchdog.out" 2>&1 </dev/null 9>&- &
}

wait_until_answers() {
  local pid=$1 t0=$2
  local deadline=$((t0 + START_TIMEOUT * 1000))
  until kafka_answers "$PORT"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$LOG_DIR/kafka.out" "$LOG_DIR/server.log" >&2 2>/dev/null || true
      rm -f "$PID_FILE"
      die "the broker exited during start (logs in $LOG_DIR)"
    fi
    if (($(now_ms) > deadline)); then
      tail -n 30 "$LOG_DIR/server.log" >&2 2>/dev/null || true
      cmd_stop >&2
      die "the broker did not answer on 127.0.0.1:$PORT within $START_TIMEOUT s (logs in $LOG_DIR)"
    fi
    sleep 0.2
  done
}

cmd_start() {
  local t0 pid
  t0=$(now_ms)
  if pid=$(our_pid); then
    [[ "$(our_port)" == "$PORT" ]] \
      || die "our broker (pid $pid) already runs on port $(our_port); stop it first to use port $PORT"
    wait_until_answers "$pid" "$t0"
    [[ -f "$LEASED" ]] && take_lease
    say "already running: Kafka $VERSION on 127.0.0.1:$PORT (pid $pid)"
    return
  fi
  if kafka_answers "$PORT"; then
    say "a Kafka broker not started by this script already answers on 127.0.0.1:$PORT; using it"
    return
  fi
  rm -f "$LEASED"
  rm -rf "$LEASES"
  port_open "$PORT" && die "port $PORT is in use by something that is not a Kafka broker"
  port_open "$CONTROLLER_PORT" && die "controller port $CONTROLLER_PORT is in use"
  local secured_port
  for secured_port in $SASL_SSL_PORT $SSL_PORT; do
    port_open "$secured_port" && die "port $secured_port (a secured listener) is in use"
  done
  check_java
  check_sasl_users
  cmd_fetch
  mkdir -p "$DATA_DIR"
  check_data_version
  write_config
  format_storage
  # setsid: the broker does not share the caller's process group, so a Ctrl-C meant for a test
  # run does not kill it under the fixture's feet; `stop` (or the watchdog) ends it.
  # shellcheck disable=SC2086
  setsid nohup "$(java_bin)" $HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$DATA_DIR/log4j2.properties" \
    -cp "$JARS_DIR/*" kafka.Kafka "$CONFIG" >>"$LOG_DIR/kafka.out" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid" >"$PID_FILE"
  echo "$PORT" >"$PORT_FILE"
  if [[ -n "${TRACKWIRE_KAFKA_OWNER_PID:-}" ]]; then
    take_lease
    touch "$LEASED"
    start_watchdog "$pid"
  fi
  wait_until_answers "$pid" "$t0"
  say "started Kafka $VERSION on 127.0.0.1:$PORT (pid $pid) in $(seconds_since "$t0") s; logs in $LOG_DIR"
}

cmd_stop() {
  local pid t0 deadline
  if ! pid=$(our_pid); then
    rm -f "$PID_FILE"
    say "not running (no broker started by this script from $DATA_DIR)"
    return
  fi
  t0=$(now_ms)
  deadline=$((t0 + STOP_TIMEOUT * 1000))
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do
    if (($(now_ms) > deadline)); then
      say "no exit $STOP_TIMEOUT s after SIGTERM: sending SIGKILL to pid $pid"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep 0.1
  done
  rm -f "$PID_FILE" "$LEASED"
  rm -rf "$LEASES"
  say "stopped pid $pid in $(seconds_since "$t0") s"
}

cmd_release() {
  [[ -n "${TRACKWIRE_KAFKA_OWNER_PID:-}" ]] || die "release needs TRACKWIRE_KAFKA_OWNER_PID"
  rm -f "$LEASES/$TRACKWIRE_KAFKA_OWNER_PID"
  if [[ ! -f "$LEASED" ]] || ! our_pid >/dev/null; then
    say "released; the broker was not started for leases, so it is left as it is"
    return
  fi
  local others
  others=$(live_leases)
  if [[ "$others" -gt 0 ]]; then
    say "released; $others other lease holder(s) still use the broker"
  else
    stop_if_unleased
  fi
}

cmd_status() {
  local pid port
  port=$PORT
  if pid=$(our_pid); then
    port=$(our_port)
    if kafka_answers "$port"; then
      say "running: Kafka $VERSION on 127.0.0.1:$port (pid $pid)"
      return 0
    fi
    say "pid $pid is up but does not answer on 127.0.0.1:$port (starting or stuck; logs in $LOG_DIR)"
    return 1
  fi
  if kafka_answers "$port"; then
    say "a Kafka broker not started by this script answers on 127.0.0.1:$port"
    return 0
  fi
  if port_open "$port"; then
    say "not running: port $port is in use by something that is not a Kafka broker"
  else
    say "not running (nothing answers on 127.0.0.1:$port)"
  fi
  return 3
}

cmd_wipe() {
  cmd_stop
  rm -rf "$DATA_DIR"
  say "wiped $DATA_DIR"
}

# start and stop of one data directory take turns (two test runs starting at once). The broker
# and the watchdog are started with fd 9 closed, so they do not keep holding the lock.
with_lock() {
  mkdir -p "$DATA_DIR"
  exec 9>"$DATA_DIR/.lock"
  flock 9
  "$@"
}

case "${1:-}" in
  start) with_lock cmd_start ;;
  stop) with_lock cmd_stop ;;
  status) cmd_status ;;
  wipe) with_lock cmd_wipe ;;
  fetch) cmd_fetch ;;
  release) with_lock cmd_release ;;
  _reap) with_lock stop_if_unleased ;; # the watchdog's check
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
    ;;
esac

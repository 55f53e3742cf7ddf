#!/usr/bin/env bash
# The run command: install what is needed, start the local Kafka broker (unless
# KAFKA_BOOTSTRAP_SERVERS points at one), then run the whole pipeline with simulated devices.
# Devices (real or simulated) report to port 8888, TCP or UDP; ClickHouse data lands in var/clickhouse.
# Extra arguments go to `trackwire run` (e.g. --simulate 0 for real devices only).
# The preparation steps print one line each; their output goes to var/log/ and is shown if one fails.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
mkdir -p var/log

step() { # NAME LOG COMMAND...: run COMMAND quietly into LOG; on failure show LOG's last lines and stop
  local name=$1 log=$2 rc=0
  shift 2
  printf '  %-10s ' "$name"
  "$@" >"$log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "FAILED (exit $rc); the last lines of $log:"
    tail -n 30 "$log" | sed 's/^/  | /'
    exit "$rc"
  fi
  echo "done (output in $log)"
}

echo "trackwire: preparing this machine"
step setup var/log/setup.log bash deploy/local/setup.sh
if [ -z "${KAFKA_BOOTSTRAP_SERVERS:-${TRACKWIRE_KAFKA_BOOTSTRAP_SERVERS:-}}" ]; then
  step kafka var/log/kafka-start.log bash deploy/local/kafka.sh start
  echo "             local broker on 127.0.0.1:${TRACKWIRE_KAFKA_PORT:-9092}; it stays up for the next run" \
       "(bash deploy/local/kafka.sh stop)"
fi
exec .venv/bin/trackwire run --simulate "${TRACKWIRE_SIMULATE_DEVICES:-50}" "$@"

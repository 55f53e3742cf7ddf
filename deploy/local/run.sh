#!/usr/bin/env bash
# The run command: install what is needed, start the local Kafka broker (unless
# KAFKA_BOOTSTRAP_SERVERS points at one), then run the whole pipeline with simulated devices.
# Devices (real or simulated) report to port 8888, TCP or UDP; ClickHouse data lands in var/clickhouse.
# Extra arguments go to `trackwire run` (e.g. --simulate 0 for real devices only).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
bash deploy/local/setup.sh
if [ -z "${KAFKA_BOOTSTRAP_SERVERS:-${TRACKWIRE_KAFKA_BOOTSTRAP_SERVERS:-}}" ]; then
  bash deploy/local/kafka.sh start
fi
exec .venv/bin/trackwire run --simulate "${TRACKWIRE_SIMULATE_DEVICES:-50}" "$@"

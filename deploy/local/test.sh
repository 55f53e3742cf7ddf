#!/usr/bin/env bash
# The test command: install what is needed, then run the whole suite. The suite starts a real
# Kafka broker (deploy/local/kafka.sh) unless KAFKA_BOOTSTRAP_SERVERS points at one, and stops it
# at the end if it started it.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
bash deploy/local/setup.sh
exec .venv/bin/python -m pytest "$@"

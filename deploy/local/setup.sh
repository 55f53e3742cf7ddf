#!/usr/bin/env bash
# Install what trackwire needs on a fresh machine, idempotently:
#   Java + Maven (Debian packages, only if missing), a virtualenv at .venv with the project and its
#   test extras, and Apache Kafka's jars from Maven Central into the cache (deploy/local/kafka.sh fetch).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"

need_apt=()
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
command -v go >/dev/null 2>&1 || need_apt+=(golang-go)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)  # test certificates (tests/security)
command -v keytool >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)  # the JDK's keytool (tests/security)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating virtualenv .venv"
  "$python" -m venv .venv
fi
stamp=.venv/.trackwire-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing trackwire and its dependencies into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[test]"
  touch "$stamp"
fi

# kustomize renders deploy/k8s (built once from its Go module into .cache/bin).
bash deploy/k8s/tools.sh >/dev/null

if [ -x deploy/local/kafka.sh ]; then
  bash deploy/local/kafka.sh fetch
fi

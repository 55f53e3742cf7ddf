#!/usr/bin/env bash
# Installs the tools that render and check the deployment, into the repository's .cache/bin:
#   kustomize (built from its Go module with the machine's Go toolchain; pinned below).
# Idempotent; prints the path of the kustomize binary.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
KUSTOMIZE_VERSION=v5.7.1
bin="$repo/.cache/bin"
mkdir -p "$bin"
if [ ! -x "$bin/kustomize" ] || ! "$bin/kustomize" version 2>/dev/null | grep -q "$KUSTOMIZE_VERSION"; then
  command -v go >/dev/null 2>&1 || { echo "tools.sh: Go is needed to build kustomize (apt-get install golang-go)" >&2; exit 1; }
  echo "tools.sh: building kustomize $KUSTOMIZE_VERSION into $bin" >&2
  GOBIN="$bin" GOFLAGS=-mod=mod go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >&2
fi
echo "$bin/kustomize"

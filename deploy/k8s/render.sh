#!/usr/bin/env bash
# Prints every manifest of the production path (deploy/k8s/overlays/production) as plain
# multi-document YAML on stdout. `render.sh local` renders the overlay for a cluster that already
# has Kafka and ClickHouse. Installs kustomize into .cache/bin on first use (deploy/k8s/tools.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
overlay="${1:-production}"
[ -d "$here/overlays/$overlay" ] || { echo "render.sh: no overlay '$overlay' (have: $(ls "$here/overlays"))" >&2; exit 2; }
kustomize="$(bash "$here/tools.sh")"
exec "$kustomize" build "$here/overlays/$overlay"

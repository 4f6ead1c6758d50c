#!/usr/bin/env bash
# Install what the tests need, then run them all (two pytest workers; the machine has 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
bash scripts/redis-up.sh
mkdir -p test-artifacts
exec python3 -m pytest -n 2 --dist loadfile -p no:cacheprovider -q "$@"

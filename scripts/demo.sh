#!/usr/bin/env bash
# Bring the whole system up on this machine: simulated cameras, recording, events, dashboard.
# Prints the URL and a one-time admin login. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec python3 -m vmsapp.cli demo "$@"

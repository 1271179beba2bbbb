#!/usr/bin/env bash
# scripts/test.sh: the README's second command. Installs what is missing, builds with
# AddressSanitizer + UBSan and warnings as errors, and runs every unit and integration
# test through CTest (the integration fixture starts and removes its own PostgreSQL).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

ensure_packages
cmake --workflow --preset asan

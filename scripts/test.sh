#!/usr/bin/env bash
# scripts/test.sh: the README's second command. Installs what is missing, builds with
# AddressSanitizer + UBSan and warnings as errors, and runs every unit and integration
# test through CTest (the integration fixture starts and removes its own PostgreSQL).
# Then builds the libFuzzer targets with clang and runs each for
# ORDERS_PIPELINE_FUZZ_SECONDS (default 30); a crash fails the run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

ensure_packages
cmake --workflow --preset asan
cmake --preset fuzz -DORDERS_PIPELINE_FUZZ_SECONDS="${ORDERS_PIPELINE_FUZZ_SECONDS:-30}" >/dev/null
cmake --build --preset fuzz
ctest --preset fuzz

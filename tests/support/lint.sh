#!/usr/bin/env bash
# tests/support/lint.sh: clang-format check and a banned-API grep over the tracked sources.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

mapfile -t sources < <(git ls-files -- '*.cpp' '*.hpp' 2>/dev/null || find cmd pipeline tests bench -name '*.[ch]pp')
status=0
if command -v clang-format >/dev/null; then
    clang-format --dry-run --Werror "${sources[@]}" || status=1
else
    echo "lint.sh: clang-format not installed" >&2
    status=1
fi
# Nothing below main may end the process; no unbounded C string calls; getenv only in config.
banned='std::exit|(^|[^._a-z])exit\(|[^a-z_]system\(|sprintf\(|strcpy\(|strcat\('
if grep -nE "$banned" "${sources[@]}" | grep -v 'NOLINT'; then
    echo "lint.sh: banned API above" >&2
    status=1
fi
if grep -nE 'getenv\(' "${sources[@]}" | grep -vE '^(pipeline/config.cpp|tests/)'; then
    echo "lint.sh: getenv outside pipeline/config.cpp" >&2
    status=1
fi
exit $status

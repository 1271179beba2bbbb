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
if grep -nE 'getenv\(' "${sources[@]}" | grep -vE '^(pipeline/config/config.cpp|tests/)'; then
    echo "lint.sh: getenv outside pipeline/config/config.cpp" >&2
    status=1
fi
# The pure layers (pipeline/core, pipeline/orders) read no files, no clock source other than
# what callers pass in, and talk to no server: they include only the standard library, fmt
# and each other. The I/O layers depend on them, never the other way round.
pure=$(printf '%s\n' "${sources[@]}" | grep -E '^pipeline/(core|orders)/' || true)
if [[ -n $pure ]] && grep -nE '^#include' $pure |
    grep -vE '#include (<(fmt/[a-z]+\.h|[a-z_]+)>|"pipeline/(core|orders)/[a-z_]+\.(hpp|inc)")' |
    grep -E . || grep -nE '#include <(filesystem|fstream|thread)>' $pure; then
    echo "lint.sh: a pure module (pipeline/core, pipeline/orders) includes an I/O header" >&2
    status=1
fi
# pipeline/jobs (declared jobs' rules, types and values) is pure too; it may also use the
# YAML, RE2 and JSON libraries.
jobs=$(printf '%s\n' "${sources[@]}" | grep -E '^pipeline/jobs/' || true)
if [[ -n $jobs ]] && grep -nE '^#include' $jobs |
    grep -vE '#include (<(fmt/[a-z]+\.h|re2/re2\.h|yaml-cpp/yaml\.h|nlohmann/json\.hpp|[a-z_]+)>|"pipeline/(core|orders|jobs)/[a-z_]+\.(hpp|inc)")' |
    grep -E . || grep -nE '#include <(filesystem|fstream|thread)>' $jobs; then
    echo "lint.sh: a pure module (pipeline/jobs) includes an I/O header" >&2
    status=1
fi
exit $status

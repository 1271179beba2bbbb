# scripts/lib.sh: shared by scripts/demo.sh and scripts/test.sh (sourced, not run).

# Debian bookworm packages the build, the tests and the demo need.
OP_PACKAGES=(g++ cmake ninja-build libpq-dev libcurl4-openssl-dev libssl-dev nlohmann-json3-dev
    libcli11-dev libspdlog-dev libfmt-dev libyaml-cpp-dev libre2-dev pkg-config libgtest-dev libbenchmark-dev postgresql-15
    postgresql-client-15 time clang clang-format libclang-rt-14-dev)

# Installs whatever of OP_PACKAGES is missing (apt-get; sudo when not root).
ensure_packages() {
    local missing=() pkg
    for pkg in "${OP_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    echo "==> installing missing packages: ${missing[*]}"
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        sudo=(sudo)
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

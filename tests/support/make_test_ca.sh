#!/usr/bin/env bash
# tests/support/make_test_ca.sh DIR: throwaway TLS material for the Snowflake emulator.
#   DIR/ca.pem            a test CA (the only thing the client is told to trust)
#   DIR/server.pem/.key   a certificate for 127.0.0.1 and localhost signed by that CA
#   DIR/other-ca.pem      an unrelated CA, for the "untrusted certificate" test
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
quiet() { "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; "$@"; }; }
quiet openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
    -subj "/CN=orders-pipeline test CA"
quiet openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem -days 2 \
    -subj "/CN=some other CA"
quiet openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1"
cat > server.ext <<'EXT'
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
EXT
quiet openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -out server.pem -days 2 -extfile server.ext
# A valid RSA key that Snowflake (the emulator) does not know, for the "wrong key" test.
quiet openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out unregistered_key.p8

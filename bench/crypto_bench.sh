#!/usr/bin/env bash
# Digest benchmark (issue #18): SHA-256, SHA-1, HMAC-SHA256/PBKDF2 through the system's libcrypto (the
# COpenSSL shim AgentShop uses) against apple/swift-crypto 3.12.3 (BoringSSL) and the hand-written code
# AgentShop had before, in one release-built process (bench/CryptoBench, a package of its own so the
# product does not carry swift-crypto only to be compared with it). Rounds are interleaved.
#
#   bench/crypto_bench.sh              # 1024 MiB per digest run, 3 rounds
#   MIB=256 ROUNDS=1 bench/crypto_bench.sh
set -euo pipefail

MIB=${MIB:-1024}
ROUNDS=${ROUNDS:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RESULTS=$ROOT/bench/results
mkdir -p "$RESULTS"
OUT=$RESULTS/crypto_bench-$(date -u +%Y%m%dT%H%M%SZ).txt

(cd "$ROOT/bench/CryptoBench" && swift build -c release --scratch-path "$ROOT/bench/CryptoBench/.build" >&2)
{
    echo "crypto benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ), $MIB MiB, $ROUNDS rounds, $(nproc) cores, $(uname -sr)"
    echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); sha_ni: $(grep -qw sha_ni /proc/cpuinfo && echo yes || echo no)"
    echo "libcrypto $(pkg-config --modversion libcrypto); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    "$ROOT/bench/CryptoBench/.build/release/crypto-bench" "$MIB" "$ROUNDS"
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT"
echo "results: $OUT" >&2

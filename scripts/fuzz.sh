#!/usr/bin/env bash
# Fuzz every parser that reads untrusted input, with cargo fuzz (libFuzzer, nightly Rust).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     (default: 60 seconds for every target)
#
# Targets (fuzz/fuzz_targets/): manifest, lockfile, oci_json, tar_reader (whole and split
# into parts), registry_path (/v2 routes, /files and /apt paths, Range headers),
# debian_control (deb822, relations, Release), debian_version (ordering is a total order),
# checksum (checksum files). Seeds are in fuzz/seeds/<target>; the growing corpus goes to
# fuzz/corpus/<target> (not committed). A crash is reported (the input saved under
# fuzz/artifacts/<target>/), the other targets still run, and the script exits 1; turn the
# input into a regression test before fixing it.
# Installs the nightly toolchain and cargo-fuzz when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${1:-60}
shift || true
if ! [[ $SECS =~ ^[0-9]+$ ]] || ((SECS < 1)); then
    echo "usage: $0 [SECONDS] [TARGET...]" >&2
    exit 2
fi
if ! rustup toolchain list | grep -q '^nightly'; then
    echo "installing the nightly toolchain (cargo fuzz needs it)"
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi

mapfile -t ALL < <(cargo +nightly fuzz list)
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=("${ALL[@]}")

echo "building ${#TARGETS[@]} fuzz target(s) (address sanitizer, release)"
cargo +nightly fuzz build

summary=()
failed=()
for t in "${TARGETS[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/seeds/$t"
    log="fuzz/artifacts/$t.log"
    mkdir -p fuzz/artifacts
    echo "fuzzing $t for ${SECS}s"
    rc=0
    cargo +nightly fuzz run "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=20 -max_len=65536 \
        -print_final_stats=1 >"$log" 2>&1 || rc=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    if ((rc != 0)); then
        tail -n 40 "$log" >&2
        echo "FAIL $t after ${runs} runs: see $log and fuzz/artifacts/$t/" >&2
        failed+=("$t")
        continue
    fi
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)
    summary+=("$t: ${runs} runs in ${SECS}s, ${cov:-cov: ?}, no crash")
    echo "ok $t: ${runs} runs, ${cov:-cov: ?}"
done
echo
((${#summary[@]} == 0)) || printf 'OK %s\n' "${summary[@]}"
if ((${#failed[@]})); then
    printf 'CRASH %s (input in fuzz/artifacts/%s/)\n' "${failed[@]}" "${failed[@]}" >&2
    exit 1
fi

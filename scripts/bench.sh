#!/usr/bin/env bash
# Benchmark outpost against the tools an operator would otherwise use.
#
#   scripts/bench.sh [build|verify|serve|push|resolve|all]   (default: all = every mode)
#
# Everything runs on loopback in a temporary directory: a deterministic image corpus
# (scripts/testimages.py --set bench) is pushed to a local `docker-registry`, then
#   build   BENCH_RUNS times, alternating:
#             (a) outpost cold build   (empty cache, fresh out dir, no lockfile)
#             (b) skopeo copy of the same images, one after another, into ONE fresh OCI layout
#             (c) outpost warm rebuild (cache from (a), fresh out dir)
#             (d) the same build again into the same out dir (bundle already up to date)
#   verify  on one bundle, page-cached: `outpost bundle verify` vs `sha256sum`, BENCH_RUNS times
#           each, as MB/s (1 MB = 1e6 bytes); also `openssl dgst -sha256` of the bundle and the
#           machine's single-core `openssl speed` sha256 rate (in-memory ceiling) when openssl exists.
#   serve   `outpost serve` vs a second `docker-registry` (distribution) on the same images, both
#           on loopback, and nginx serving the same manifest and big layer as static files
#           (sendfile; the physical limit, measured after both). One serve bundle of at least BENCH_STARTUP_GIB GiB: the corpus, an image
#           with one BENCH_BLOB_MIB layer, and filler images for the rest. BENCH_RUNS times, each
#           server started fresh, outpost and distribution alternating:
#             start-up   launch to the first 200 on a manifest GET (curl in a tight loop), once
#                        with the bundle / registry files evicted from the page cache, once cached
#             manifests  wrk -t2 -c64 -d BENCH_SERVE_SECONDS on one manifest URL (requests/s;
#                        Non-2xx answers and socket errors are reported)
#             blob       8 parallel curl GETs of the big layer (aggregate MB/s, 1 MB = 1e6 bytes)
#             peak RSS   VmHWM from /proc/PID/status after the load above (both servers)
#   push    `outpost push` of the bundle into a fresh `docker-registry` vs `skopeo copy --all
#           oci-archive:BUNDLE:REF docker://...` of the same images into another fresh one,
#           BENCH_RUNS times alternating; then the same push again into the first (it must
#           upload 0 bytes).
#   resolve `outpost lock` of 8 node packages against the host's apt sources vs
#           `apt-get install --simulate` (needs the network).
# A table goes to stdout and the same figures, with every sample, to BENCH_JSON.
#
# Environment:
#   BENCH_COUNT (10)  BENCH_BASE_MIB (100)  BENCH_LAYER_MIB (45)   corpus: COUNT images of
#                     LAYER_MIB each on one shared BASE_MIB layer (defaults: 550 MiB unique)
#   BENCH_RUNS (3)    repetitions of every measurement
#   BENCH_SERVE_SECONDS (10)  wrk duration per manifest measurement (serve)
#   BENCH_BLOB_MIB (256)      size of the layer the blob measurement fetches (serve)
#   BENCH_STARTUP_GIB (2)     minimum serve bundle size, for start-up; 0 = no filler images
#   BENCH_JSON        JSON output (default: bundles/bench.json in the repository)
#   BENCH_TIMEOUT     overall time budget in seconds (default 900); every step is cut off there
#   OUTPOST           outpost binary (default: target/release/outpost, built with
#                     `cargo build --release` first unless BENCH_NO_CARGO=1)
#   TMPDIR            where the temporary directory goes (needs ~4x the corpus size free;
#                     serve: ~3x BENCH_STARTUP_GIB GiB at the peak, while its bundle is built)
set -euo pipefail

MODE=${1:-all}
case "$MODE" in
    build | verify | serve | push | resolve | all) ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "usage: $0 [build|verify|serve|push|resolve|all]" >&2
        exit 2
        ;;
esac

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COUNT=${BENCH_COUNT:-10}
BASE_MIB=${BENCH_BASE_MIB:-100}
LAYER_MIB=${BENCH_LAYER_MIB:-45}
RUNS=${BENCH_RUNS:-3}
JSON_OUT=${BENCH_JSON:-$REPO_ROOT/bundles/bench.json}
BUDGET=${BENCH_TIMEOUT:-900}
SERVE_SECONDS=${BENCH_SERVE_SECONDS:-10}
BLOB_MIB=${BENCH_BLOB_MIB:-256}
STARTUP_GIB=${BENCH_STARTUP_GIB:-2}
for v in COUNT BASE_MIB LAYER_MIB RUNS BUDGET SERVE_SECONDS BLOB_MIB; do
    if ! [[ ${!v} =~ ^[0-9]+$ ]] || ((${!v} < 1)); then
        echo "bench: $v must be a positive integer (got '${!v}')" >&2
        exit 2
    fi
done
if ! [[ $STARTUP_GIB =~ ^[0-9]+$ ]]; then
    echo "bench: STARTUP_GIB must be a whole number of GiB (got '$STARTUP_GIB')" >&2
    exit 2
fi
SERVING=0
[[ $MODE == serve || $MODE == all ]] && SERVING=1

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
    printf 'bench: error: %s\n' "$*" >&2
    exit 1
}

# --- tools -------------------------------------------------------------------------------------
need() {
    command -v "$1" >/dev/null 2>&1 || die "'$1' not found: $2"
}
need python3 "install python3 (used for the corpus, timing and the report)"
need skopeo "install skopeo (Debian package 'skopeo')"
need docker-registry "install the CNCF distribution registry (Debian package 'docker-registry')"
need sha256sum "install coreutils"
need timeout "install coreutils"
need mktemp "install coreutils"
[[ -f $REPO_ROOT/scripts/testimages.py ]] || die "scripts/testimages.py missing in $REPO_ROOT"
if ((SERVING)); then
    need wrk "install wrk (Debian package 'wrk') for the serve measurements"
    need curl "install curl for the serve measurements"
    command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] ||
        die "'nginx' not found: install nginx (Debian package 'nginx'; scripts/test.sh does) for the static-file reference"
    [[ -r /proc/self/status ]] || die "/proc is needed for the serve peak-RSS figures (VmHWM)"
fi

TIME_BIN=""
if [[ -x /usr/bin/time ]]; then
    TIME_BIN=/usr/bin/time
elif command -v apt-get >/dev/null 2>&1; then
    log "/usr/bin/time missing; installing the Debian package 'time' for peak-RSS figures"
    SUDO=""
    if ((EUID != 0)); then
        command -v sudo >/dev/null 2>&1 && SUDO="sudo -n"
    fi
    if $SUDO apt-get -y -qq install time >/dev/null 2>&1 && [[ -x /usr/bin/time ]]; then
        TIME_BIN=/usr/bin/time
    else
        log "could not install 'time'; the peak-RSS column will be empty"
    fi
else
    log "/usr/bin/time missing and no apt-get; the peak-RSS column will be empty"
fi

if [[ -n ${OUTPOST:-} ]]; then
    [[ -x $OUTPOST ]] || die "OUTPOST=$OUTPOST is not an executable"
else
    OUTPOST=$REPO_ROOT/target/release/outpost
    if [[ ${BENCH_NO_CARGO:-0} != 1 ]]; then
        need cargo "install Rust, or point OUTPOST at a built binary"
        log "cargo build --release (no-op if up to date)"
        (cd "$REPO_ROOT" && cargo build --release --quiet) ||
            die "cargo build --release failed (set OUTPOST=/path/to/outpost or BENCH_NO_CARGO=1 to skip it)"
    fi
    [[ -x $OUTPOST ]] || die "$OUTPOST missing: run 'cargo build --release' or set OUTPOST"
fi
"$OUTPOST" bundle build --help 2>&1 | grep -q -- '--cache' ||
    die "$OUTPOST does not describe 'bundle build --cache' in its help (stale or stub binary?)"
if ((SERVING)); then
    "$OUTPOST" serve --help 2>&1 | grep -q -- '--listen' ||
        die "$OUTPOST has no 'serve --listen' (stale binary? run 'cargo build --release')"
fi

# --- temp dir, cleanup, time budget ------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/outpost-bench.XXXXXX")
REGISTRY_PID=""
SERVE_PID="" # outpost serve (serve mode)
PEER_PID=""  # the distribution instance it is compared with (serve mode)
TARGET_PID="" # push targets (push mode)
NGINX_PID=""  # static-file reference (serve mode)
cleanup() {
    local rc=$? pid
    for pid in "$SERVE_PID" "$PEER_PID" "$REGISTRY_PID" "$TARGET_PID" "$NGINX_PID"; do
        if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

START=$(date +%s)
DEADLINE=$((START + BUDGET))
remaining() {
    local left=$((DEADLINE - $(date +%s)))
    ((left > 0)) || die "time budget of ${BUDGET}s (BENCH_TIMEOUT) used up"
    echo "$left"
}
# bounded CMD...: run CMD, killed when the overall budget runs out.
bounded() {
    local left
    left=$(remaining)
    local rc=0
    timeout --foreground --kill-after=5 "$left" "$@" || rc=$?
    if ((rc == 124 || rc == 137)); then
        die "time budget of ${BUDGET}s (BENCH_TIMEOUT) ran out during: $*"
    fi
    return "$rc"
}

now() { date +%s.%N; }
elapsed() { python3 -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.6f}")' "$1" "$2"; }

SAMPLES=$WORK/samples.tsv # figure <TAB> seconds <TAB> peak RSS KiB (or empty) <TAB> bytes
: >"$SAMPLES"

# timed FIGURE BYTES LOG CMD...: run CMD (stdout+stderr to LOG), append one sample.
# Peak RSS is recorded when /usr/bin/time exists.
timed() {
    local figure=$1 bytes=$2 logf=$3
    shift 3
    local t0 t1 rss="" rc=0
    if [[ -n $TIME_BIN ]]; then
        t0=$(now)
        bounded "$TIME_BIN" -f %M -o "$WORK/rss" "$@" >"$logf" 2>&1 || rc=$?
        t1=$(now)
        rss=$(tail -n 1 "$WORK/rss" 2>/dev/null || true)
        [[ $rss =~ ^[0-9]+$ ]] || rss=""
    else
        t0=$(now)
        bounded "$@" >"$logf" 2>&1 || rc=$?
        t1=$(now)
    fi
    if ((rc != 0)); then
        echo "---- $logf" >&2
        tail -n 20 "$logf" >&2 || true
        die "'$figure' failed (exit $rc): $*"
    fi
    local secs
    secs=$(elapsed "$t0" "$t1")
    printf '%s\t%s\t%s\t%s\n' "$figure" "$secs" "$rss" "$bytes" >>"$SAMPLES"
    echo "$secs"
}

# --- corpus and registry -----------------------------------------------------------------------
log "work dir $WORK; corpus: $COUNT images x ${LAYER_MIB} MiB on a shared ${BASE_MIB} MiB base"
bounded python3 "$REPO_ROOT/scripts/testimages.py" "$WORK/corpus" --set bench \
    --count "$COUNT" --base-mib "$BASE_MIB" --layer-mib "$LAYER_MIB" >"$WORK/images.txt" ||
    die "scripts/testimages.py failed"
mapfile -t IMAGE_LINES <"$WORK/images.txt"
((${#IMAGE_LINES[@]} == COUNT)) || die "testimages.py printed ${#IMAGE_LINES[@]} images, expected $COUNT"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
REG=127.0.0.1:$PORT
mkdir -p "$WORK/registry"
cat >"$WORK/registry.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $WORK/registry
http:
  addr: $REG
EOF
docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REGISTRY_PID=$!
python3 - "$REG" "$REGISTRY_PID" <<'EOF' || { cat "$WORK/registry.log" >&2; die "registry did not come up on $REG"; }
import os, sys, time, urllib.request
host, pid = sys.argv[1], int(sys.argv[2])
for _ in range(100):
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(1)
    try:
        urllib.request.urlopen(f"http://{host}/v2/", timeout=1).read()
        sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit(1)
EOF
log "registry up on $REG (pid $REGISTRY_PID); pushing"

REFS=()
for line in "${IMAGE_LINES[@]}"; do
    dir=${line% *}
    ref=${line##* }
    REFS+=("$ref")
    bounded skopeo copy -q --all --preserve-digests --dest-tls-verify=false \
        "oci:$dir" "docker://$REG/$ref" || die "pushing $ref to $REG failed"
done
rm -rf "$WORK/corpus" # the registry holds it now; save the disk space
CORPUS_BYTES=$(du -sb "$WORK/registry" | cut -f1)

# --- outpost key and manifest ------------------------------------------------------------------
export OUTPOST_KEY_PASSWORD=bench-password
"$OUTPOST" key generate --out "$WORK/keys" >/dev/null || die "outpost key generate failed"
KEY=$WORK/keys/outpost.key
PUB=$WORK/keys/outpost.pub
MANIFEST=$WORK/release/bench.yaml
mkdir -p "$WORK/release"
{
    echo "apiVersion: outpost/v1alpha1"
    echo "kind: Release"
    echo "metadata: {name: bench, version: \"1\"}"
    echo "spec:"
    echo "  platforms: [linux/amd64]"
    echo "  images:"
    for ref in "${REFS[@]}"; do echo "    - registry.test/$ref"; done
    echo "  upstreams: {registry.test: \"http://$REG\"}"
} >"$MANIFEST"

BUNDLE="" # the bundle the verify phase reads
BUNDLE_BYTES=0

# build_once DIR: outpost build into DIR (cache $CACHE); echo the bundle path.
find_bundle() {
    local found
    found=$(find "$1" -maxdepth 1 -name '*.tar' -print -quit)
    [[ -n $found ]] || die "outpost wrote no .tar into $1"
    echo "$found"
}

run_build() {
    local r cache out oci secs b
    for ((r = 1; r <= RUNS; r++)); do
        rm -rf "$WORK/run"
        mkdir -p "$WORK/run"
        cache=$WORK/run/cache
        mkdir -p "$cache"
        rm -f "$WORK/release/bench.lock" # cold means cold: no lockfile either

        out=$WORK/run/out-cold
        secs=$(timed cold_build 0 "$WORK/cold-$r.log" \
            "$OUTPOST" bundle build "$MANIFEST" --key "$KEY" --out "$out" --cache "$cache" --json)
        b=$(find_bundle "$out")
        log "run $r/$RUNS: outpost cold build ${secs}s ($(stat -c %s "$b") bytes)"

        oci=$WORK/run/oci
        local t0 t1 ref
        t0=$(now)
        for ref in "${REFS[@]}"; do
            bounded skopeo copy -q --src-tls-verify=false \
                "docker://$REG/$ref" "oci:$oci:$ref" >>"$WORK/skopeo-$r.log" 2>&1 ||
                { tail -n 20 "$WORK/skopeo-$r.log" >&2; die "skopeo copy of $ref failed"; }
        done
        t1=$(now)
        secs=$(elapsed "$t0" "$t1")
        printf '%s\t%s\t\t%s\n' skopeo_copy "$secs" "$(du -sb "$oci" | cut -f1)" >>"$SAMPLES"
        log "run $r/$RUNS: skopeo copy ${secs}s"
        rm -rf "$oci"

        rm -rf "$out"
        out=$WORK/run/out-warm
        secs=$(timed warm_build 0 "$WORK/warm-$r.log" \
            "$OUTPOST" bundle build "$MANIFEST" --key "$KEY" --out "$out" --cache "$cache" --json)
        b=$(find_bundle "$out")
        log "run $r/$RUNS: outpost warm rebuild ${secs}s"

        # The same command again, same destination: the bundle is already up to date.
        secs=$(timed noop_build 0 "$WORK/noop-$r.log" \
            "$OUTPOST" bundle build "$MANIFEST" --key "$KEY" --out "$out" --cache "$cache" --json)
        log "run $r/$RUNS: outpost rebuild, unchanged destination ${secs}s"

        # keep the last bundle for the verify phase
        rm -rf "$WORK/keep"
        mkdir -p "$WORK/keep"
        mv "$b" "$WORK/keep/"
        BUNDLE=$WORK/keep/$(basename "$b")
        BUNDLE_BYTES=$(stat -c %s "$BUNDLE")
    done
    rm -rf "$WORK/run"
}

# ensure_bundle: build one bundle of the corpus (not timed) unless the build phase left one.
ensure_bundle() {
    if [[ -z $BUNDLE ]]; then
        log "building a bundle of the corpus"
        mkdir -p "$WORK/keep"
        bounded "$OUTPOST" bundle build "$MANIFEST" --key "$KEY" --out "$WORK/keep" \
            --cache "$WORK/vcache" >"$WORK/vbuild.log" 2>&1 ||
            { tail -n 20 "$WORK/vbuild.log" >&2; die "outpost bundle build failed"; }
        rm -rf "$WORK/vcache"
        BUNDLE=$(find_bundle "$WORK/keep")
        BUNDLE_BYTES=$(stat -c %s "$BUNDLE")
    fi
}

run_verify() {
    ensure_bundle
    # page-cache the bundle once, untimed
    cat "$BUNDLE" >/dev/null
    local r secs
    for ((r = 1; r <= RUNS; r++)); do
        secs=$(timed verify "$BUNDLE_BYTES" "$WORK/verify-$r.log" \
            "$OUTPOST" bundle verify "$BUNDLE" --key "$PUB" --json)
        log "run $r/$RUNS: outpost verify ${secs}s"
        secs=$(timed sha256sum "$BUNDLE_BYTES" "$WORK/sha-$r.log" sha256sum "$BUNDLE")
        log "run $r/$RUNS: sha256sum ${secs}s"
        if command -v openssl >/dev/null 2>&1; then
            secs=$(timed openssl_dgst "$BUNDLE_BYTES" "$WORK/dgst-$r.log" openssl dgst -sha256 "$BUNDLE")
            log "run $r/$RUNS: openssl dgst -sha256 ${secs}s"
        fi
    done
    if command -v openssl >/dev/null 2>&1; then
        log "openssl speed sha256 (1 MiB blocks, 2 s)"
        bounded openssl speed -seconds 2 -bytes 1048576 sha256 >"$WORK/openssl.log" 2>&1 || true
    fi
}

# --- serve -------------------------------------------------------------------------------------
ACCEPT_MANIFEST="Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"
BLOB_CLIENTS=8
SERVE_BUNDLE=""
SERVE_BUNDLE_BYTES=0
SERVE_IMAGES=0
SERVE_FILLERS=0
BIG_BLOB=""
BIG_BLOB_BYTES=0
SAMPLE_EXTRA="" # JSON for the 5th column of the next sample line (serve figures)

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# stamp: wall clock in seconds, without a fork when bash has EPOCHREALTIME.
stamp() {
    if [[ -n ${EPOCHREALTIME:-} ]]; then
        STAMP=${EPOCHREALTIME/,/.}
    else
        STAMP=$(now)
    fi
}

# sample FIGURE SECONDS RSS_KIB BYTES [EXTRA_JSON]
sample() {
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-}" >>"$SAMPLES"
}

# evict PATH...: write back, then drop these files (only) from the page cache.
evict() {
    python3 - "$@" <<'EOF'
import os, sys
for top in sys.argv[1:]:
    paths = [top] if os.path.isfile(top) else [
        os.path.join(d, f) for d, _, files in os.walk(top) for f in files]
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        except OSError:
            pass
        finally:
            os.close(fd)
EOF
}

vmhwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || true; }

# stop_server PID: SIGTERM, then SIGKILL after 10 s; reaps it.
stop_server() {
    local pid=$1 i
    [[ -n $pid ]] || return 0
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# wait_ready URL PID LOG: manifest GETs in a tight loop until one answers 200.
wait_ready() {
    local url=$1 pid=$2 logf=$3 code give_up=$((SECONDS + 60))
    while :; do
        code=$(curl -s -o /dev/null -w '%{http_code}' -H "$ACCEPT_MANIFEST" "$url" 2>/dev/null || true)
        [[ $code == 200 ]] && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$logf" >&2 || true
            die "server (pid $pid) exited before answering $url"
        fi
        ((SECONDS < give_up)) || die "no 200 from $url within 60 s (last status $code)"
    done
}

# start_outpost CACHE (cold|warm): launch `outpost serve`, time it to the first manifest 200.
start_outpost() {
    local t0
    remaining >/dev/null
    stamp
    t0=$STAMP
    RUST_LOG=warn "$OUTPOST" serve "$SERVE_BUNDLE" --key "$PUB" --listen "$SERVE_ADDR" \
        >"$WORK/outpost-serve.log" 2>&1 &
    SERVE_PID=$!
    wait_ready "$OUTPOST_MANIFEST_URL" "$SERVE_PID" "$WORK/outpost-serve.log"
    stamp
    sample "serve_start_${1}_outpost" "$(elapsed "$t0" "$STAMP")" "" "$SERVE_BUNDLE_BYTES"
}

# start_peer CACHE: the same for a fresh distribution instance on the registry's storage.
start_peer() {
    local t0
    remaining >/dev/null
    stamp
    t0=$STAMP
    docker-registry serve "$WORK/peer.yml" >"$WORK/peer.log" 2>&1 &
    PEER_PID=$!
    wait_ready "$PEER_MANIFEST_URL" "$PEER_PID" "$WORK/peer.log"
    stamp
    sample "serve_start_${1}_peer" "$(elapsed "$t0" "$STAMP")" "" "$(du -sb "$WORK/registry" | cut -f1)"
}

# bench_manifests FIGURE URL: wrk on one manifest URL; records requests/s and errors.
bench_manifests() {
    local figure=$1 url=$2 logf=$WORK/wrk-$1-$RUN.log line
    bounded wrk -t2 -c64 -d"${SERVE_SECONDS}s" -H "$ACCEPT_MANIFEST" "$url" >"$logf" 2>&1 ||
        { tail -n 20 "$logf" >&2; die "wrk against $url failed"; }
    line=$(python3 - "$figure" "$logf" <<'EOF'
import json, re, sys
figure = sys.argv[1]
text = open(sys.argv[2]).read()
rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)", text)
non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
if not rps or not total:
    sys.exit(f"cannot read wrk output:\n{text}")
scale = {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}[total.group(3)]
extra = {"requests": int(total.group(1)), "requests_per_s": float(rps.group(1)),
         "non_2xx": int(non2xx.group(1)) if non2xx else 0,
         "socket_errors": sum(int(x) for x in sock.groups()) if sock else 0}
print(f"{figure}\t{float(total.group(2)) * scale}\t\t0\t{json.dumps(extra)}")
EOF
    ) || die "could not parse $logf"
    printf '%s\n' "$line" >>"$SAMPLES"
    log "run $RUN/$RUNS: $figure $(grep -o 'Requests/sec:.*' "$logf" | tr -s ' ')$(grep -o 'Non-2xx.*\|Socket errors.*' "$logf" | sed 's/^/; /' | tr -d '\n')"
}

# bench_blob FIGURE URL: BLOB_CLIENTS parallel full GETs of the big layer; aggregate MB/s.
bench_blob() {
    local figure=$1 url=$2 i t0 pids=() total=0 bad=0 code size secs
    remaining >/dev/null
    stamp
    t0=$STAMP
    for ((i = 1; i <= BLOB_CLIENTS; i++)); do
        curl -s -o /dev/null --max-time 300 -w '%{http_code} %{size_download}\n' "$url" \
            >"$WORK/blob-$i.out" 2>&1 &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || true; done
    stamp
    secs=$(elapsed "$t0" "$STAMP")
    for ((i = 1; i <= BLOB_CLIENTS; i++)); do
        read -r code size <"$WORK/blob-$i.out" || true
        [[ ${size:-} =~ ^[0-9]+$ ]] || size=0
        total=$((total + size))
        if [[ ${code:-} != 200 || $size != "$BIG_BLOB_BYTES" ]]; then
            bad=$((bad + 1))
            log "WARNING: $figure client $i: HTTP ${code:-?}, $size of $BIG_BLOB_BYTES bytes"
        fi
    done
    sample "$figure" "$secs" "" "$total" "{\"clients\": $BLOB_CLIENTS, \"failed\": $bad}"
    log "run $RUN/$RUNS: $figure $BLOB_CLIENTS x $BIG_BLOB_BYTES bytes in ${secs}s"
}

# gen_images OUT NAME:MIB...: one OCI layout per image under OUT, each image one uncompressed
# layer of MIB MiB of seeded pseudo-random bytes (a tar with one file), written in a stream;
# prints `<layout dir> <repository>:1` per image. (testimages.py holds whole layers in memory
# and stops below 256 MiB.)
gen_images() {
    bounded python3 - "$@" <<'EOF'
import hashlib, json, os, random, sys, tarfile
out = sys.argv[1]
for spec in sys.argv[2:]:
    name, mib = spec.rsplit(":", 1)
    path = os.path.join(out, name.replace("/", "_"))
    blobs = os.path.join(path, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    def blob(data, media_type):
        digest = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, digest), "wb") as f:
            f.write(data)
        return {"mediaType": media_type, "digest": "sha256:" + digest, "size": len(data)}
    size = int(mib) << 20
    info = tarfile.TarInfo("data/" + name)
    info.size, info.mtime, info.mode = size, 0, 0o644
    tmp, h, rng, left = os.path.join(blobs, "layer.tmp"), hashlib.sha256(), random.Random(name), size
    with open(tmp, "wb") as f:
        def put(b):
            f.write(b)
            h.update(b)
        put(info.tobuf(format=tarfile.USTAR_FORMAT))
        while left:
            n = min(left, 1 << 20)
            put(rng.randbytes(n))
            left -= n
        put(b"\0" * ((-size) % 512 + 1024))
        length = f.tell()
    layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + h.hexdigest(), "size": length}
    os.rename(tmp, os.path.join(blobs, h.hexdigest()))
    config = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/true"]},
              "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}}
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": blob(json.dumps(config, sort_keys=True).encode(), "application/vnd.oci.image.config.v1+json"),
                "layers": [layer]}
    top = blob(json.dumps(manifest, sort_keys=True).encode(), manifest["mediaType"])
    top["annotations"] = {"org.opencontainers.image.ref.name": "1"}
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [top]}, f)
    print(path, f"{name}:1", flush=True)
EOF
}

# prepare_serve: generate the extra images, push them, build the serve bundle.
prepare_serve() {
    local known_mib fill_mib fill_layer_mib i dir ref t0 t1 specs
    SERVE_REFS=("${REFS[@]}")
    # The bundle holds the corpus, the big image and fillers; fillers make up the rest of
    # BENCH_STARTUP_GIB (layer payloads alone reach it; tar headers and manifests come on top).
    specs=("bench/big:$BLOB_MIB")
    known_mib=$((BASE_MIB + COUNT * LAYER_MIB + BLOB_MIB))
    fill_mib=$((STARTUP_GIB * 1024 - known_mib))
    if ((fill_mib > 0)); then
        SERVE_FILLERS=$(((fill_mib + 255) / 256))
        fill_layer_mib=$(((fill_mib + SERVE_FILLERS - 1) / SERVE_FILLERS))
        for ((i = 0; i < SERVE_FILLERS; i++)); do specs+=("bench/fill$i:$fill_layer_mib"); done
        log "serve: generating an image with one ${BLOB_MIB} MiB layer and $SERVE_FILLERS filler image(s) of ${fill_layer_mib} MiB (bundle >= ${STARTUP_GIB} GiB)"
    else
        log "serve: generating an image with one ${BLOB_MIB} MiB layer (the corpus alone reaches ${STARTUP_GIB} GiB)"
    fi
    gen_images "$WORK/serve-corpus" "${specs[@]}" >"$WORK/serve-images.txt" ||
        die "generating the serve images failed"
    while read -r dir ref; do
        SERVE_REFS+=("$ref")
        bounded skopeo copy -q --all --preserve-digests --dest-tls-verify=false \
            "oci:$dir" "docker://$REG/$ref" || die "pushing $ref to $REG failed"
        rm -rf "$dir"
    done <"$WORK/serve-images.txt"
    rm -rf "$WORK/serve-corpus"
    SERVE_IMAGES=${#SERVE_REFS[@]}

    local manifest=$WORK/release/serve.yaml
    {
        echo "apiVersion: outpost/v1alpha1"
        echo "kind: Release"
        echo "metadata: {name: bench-serve, version: \"1\"}"
        echo "spec:"
        echo "  platforms: [linux/amd64]"
        echo "  images:"
        for ref in "${SERVE_REFS[@]}"; do echo "    - registry.test/$ref"; done
        echo "  upstreams: {registry.test: \"http://$REG\"}"
    } >"$manifest"
    log "serve: building the serve bundle ($SERVE_IMAGES images)"
    rm -rf "$WORK/serve"
    mkdir -p "$WORK/serve"
    t0=$(now)
    bounded "$OUTPOST" bundle build "$manifest" --key "$KEY" --out "$WORK/serve/out" \
        --cache "$WORK/serve/cache" >"$WORK/serve-build.log" 2>&1 ||
        { tail -n 20 "$WORK/serve-build.log" >&2; die "outpost bundle build (serve bundle) failed"; }
    t1=$(now)
    rm -rf "$WORK/serve/cache"
    SERVE_BUNDLE=$(find_bundle "$WORK/serve/out")
    SERVE_BUNDLE_BYTES=$(stat -c %s "$SERVE_BUNDLE")
    log "serve: bundle $SERVE_BUNDLE_BYTES bytes, built in $(elapsed "$t0" "$t1")s"
    if ((SERVE_BUNDLE_BYTES < STARTUP_GIB * 1024 * 1024 * 1024)); then
        log "WARNING: the serve bundle is smaller than BENCH_STARTUP_GIB=${STARTUP_GIB} GiB"
    fi

    SERVE_ADDR=127.0.0.1:$(free_port)
    PEER_ADDR=127.0.0.1:$(free_port)
    OUTPOST_MANIFEST_URL=http://$SERVE_ADDR/v2/registry.test/bench/app0/manifests/1
    PEER_MANIFEST_URL=http://$PEER_ADDR/v2/bench/app0/manifests/1
    # The peer: distribution as packaged (in-memory blob descriptor cache), access log off as
    # outpost's is (RUST_LOG=warn), on the registry's storage; a fresh process every run.
    cat >"$WORK/peer.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: $WORK/registry
http:
  addr: $PEER_ADDR
EOF
    # the big layer's digest, from the registry
    local big
    big=$(curl -sf -H "$ACCEPT_MANIFEST" "http://$REG/v2/bench/big/manifests/1" | python3 -c '
import json, sys
layer = max(json.load(sys.stdin)["layers"], key=lambda l: l["size"])
print(layer["digest"], layer["size"])') || die "cannot read the big image manifest from $REG"
    read -r BIG_BLOB BIG_BLOB_BYTES <<<"$big"
    OUTPOST_BLOB_URL=http://$SERVE_ADDR/v2/registry.test/bench/big/blobs/$BIG_BLOB
    PEER_BLOB_URL=http://$PEER_ADDR/v2/bench/big/blobs/$BIG_BLOB
    start_nginx
}

# start_nginx: nginx serving the same manifest and big layer as static files (the registry's
# own blob file, hard-linked), sendfile on, access log off: the physical limit for serving.
start_nginx() {
    local nginx root hex
    nginx=$(command -v nginx || echo /usr/sbin/nginx)
    root=$WORK/nginx/root
    mkdir -p "$root/v2/bench/app0/manifests" "$root/v2/bench/big/blobs" "$WORK/nginx/tmp"
    curl -sf -H "$ACCEPT_MANIFEST" -o "$root/v2/bench/app0/manifests/1" "http://$REG/v2/bench/app0/manifests/1" ||
        die "cannot fetch the manifest for nginx"
    hex=${BIG_BLOB#sha256:}
    ln "$WORK/registry/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data" "$root/v2/bench/big/blobs/$BIG_BLOB" ||
        die "cannot link the big layer for nginx"
    NGINX_ADDR=127.0.0.1:$(free_port)
    cat >"$WORK/nginx/nginx.conf" <<EOF
user root;
worker_processes 2;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log error;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    default_type application/octet-stream;
    client_body_temp_path $WORK/nginx/tmp;
    proxy_temp_path $WORK/nginx/tmp;
    fastcgi_temp_path $WORK/nginx/tmp;
    uwsgi_temp_path $WORK/nginx/tmp;
    scgi_temp_path $WORK/nginx/tmp;
    server { listen $NGINX_ADDR; root $root; }
}
EOF
    "$nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' >"$WORK/nginx/stdout.log" 2>&1 &
    NGINX_PID=$!
    NGINX_MANIFEST_URL=http://$NGINX_ADDR/v2/bench/app0/manifests/1
    NGINX_BLOB_URL=http://$NGINX_ADDR/v2/bench/big/blobs/$BIG_BLOB
    wait_ready "$NGINX_MANIFEST_URL" "$NGINX_PID" "$WORK/nginx/error.log"
    log "serve: nginx (static files) on $NGINX_ADDR"
}

# same_digest: both servers answer the manifest with the same digest (sanity check, once).
same_digest() {
    local a b
    a=$(curl -sfI -H "$ACCEPT_MANIFEST" "$OUTPOST_MANIFEST_URL" | tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" {print $2}')
    b=$(curl -sfI -H "$ACCEPT_MANIFEST" "$PEER_MANIFEST_URL" | tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" {print $2}')
    [[ -n $a && $a == "$b" ]] || die "outpost ($a) and distribution ($b) disagree on the manifest digest"
}

run_serve() {
    prepare_serve
    local order kib
    for ((RUN = 1; RUN <= RUNS; RUN++)); do
        # odd runs: outpost first; even runs: distribution first
        if ((RUN % 2)); then order="outpost peer"; else order="peer outpost"; fi
        evict "$SERVE_BUNDLE" "$WORK/registry"
        for who in $order; do "start_$who" cold; done
        if ((RUN == 1)); then same_digest; fi
        # warm-up, untimed: the big layer into the page cache, from each server
        curl -sf -o /dev/null "$OUTPOST_BLOB_URL" || die "GET $OUTPOST_BLOB_URL failed"
        curl -sf -o /dev/null "$PEER_BLOB_URL" || die "GET $PEER_BLOB_URL failed"
        for who in $order; do
            if [[ $who == outpost ]]; then
                bench_manifests serve_manifest_outpost "$OUTPOST_MANIFEST_URL"
            else
                bench_manifests serve_manifest_peer "$PEER_MANIFEST_URL"
            fi
        done
        bench_manifests serve_manifest_nginx "$NGINX_MANIFEST_URL"
        for who in $order; do
            if [[ $who == outpost ]]; then
                bench_blob serve_blob_outpost "$OUTPOST_BLOB_URL"
            else
                bench_blob serve_blob_peer "$PEER_BLOB_URL"
            fi
        done
        curl -sf -o /dev/null "$NGINX_BLOB_URL" || die "GET $NGINX_BLOB_URL failed"
        bench_blob serve_blob_nginx "$NGINX_BLOB_URL"
        kib=$(vmhwm_kib "$SERVE_PID")
        sample serve_rss_outpost 0 "$kib" 0
        log "run $RUN/$RUNS: outpost serve VmHWM ${kib} KiB"
        kib=$(vmhwm_kib "$PEER_PID")
        sample serve_rss_peer 0 "$kib" 0
        log "run $RUN/$RUNS: distribution VmHWM ${kib} KiB"
        stop_server "$SERVE_PID"
        SERVE_PID=""
        stop_server "$PEER_PID"
        PEER_PID=""
        # start-up again, everything the start-up reads now in the page cache
        for who in $order; do
            "start_$who" warm
            if [[ $who == outpost ]]; then
                stop_server "$SERVE_PID"
                SERVE_PID=""
            else
                stop_server "$PEER_PID"
                PEER_PID=""
            fi
        done
        log "run $RUN/$RUNS: start-up done (cold and cached)"
    done
    stop_server "$NGINX_PID"
    NGINX_PID=""
    rm -rf "$WORK/serve" # the big bundle; the registry goes with the work dir
}

# resolve: the Debian closure of a node's base packages from already-downloaded indexes of
# the host's apt sources (network only for the signed InRelease), vs apt-get --simulate.
# start_target NAME: a fresh, empty docker-registry on loopback; sets TARGET and TARGET_PID.
start_target() {
    local port
    port=$(free_port)
    TARGET=127.0.0.1:$port
    rm -rf "$WORK/target-$1"
    mkdir -p "$WORK/target-$1"
    printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: %s}\n' \
        "$WORK/target-$1" "$TARGET" >"$WORK/target-$1.yml"
    docker-registry serve "$WORK/target-$1.yml" >"$WORK/target-$1.log" 2>&1 &
    TARGET_PID=$!
    local give_up=$((SECONDS + 30))
    until curl -sf "http://$TARGET/v2/" >/dev/null 2>&1; do
        kill -0 "$TARGET_PID" 2>/dev/null || die "push target registry exited (see $WORK/target-$1.log)"
        ((SECONDS < give_up)) || die "push target registry did not come up on $TARGET"
        sleep 0.05
    done
}

stop_target() {
    stop_server "$TARGET_PID"
    TARGET_PID=""
    rm -rf "$WORK/target-$1"
}

run_push() {
    ensure_bundle
    cat "$BUNDLE" >/dev/null # page-cache it for both tools alike
    local r secs ref t0 t1 again
    for ((r = 1; r <= RUNS; r++)); do
        start_target outpost
        secs=$(timed push_outpost "$BUNDLE_BYTES" "$WORK/push-$r.log" \
            "$OUTPOST" push "$BUNDLE" --key "$PUB" --to "$TARGET" --plain-http --prefix bench --json)
        log "run $r/$RUNS: outpost push ${secs}s"
        secs=$(timed push_repeat 0 "$WORK/push-again-$r.log" \
            "$OUTPOST" push "$BUNDLE" --key "$PUB" --to "$TARGET" --plain-http --prefix bench --json)
        again=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bytes_pushed"])' "$WORK/push-again-$r.log")
        ((again == 0)) || die "the repeated push uploaded $again bytes (expected 0)"
        log "run $r/$RUNS: outpost push again ${secs}s, 0 bytes uploaded"
        stop_target outpost

        start_target skopeo
        t0=$(now)
        for ref in "${REFS[@]}"; do
            bounded skopeo copy -q --all --preserve-digests --dest-tls-verify=false \
                "oci-archive:$BUNDLE:registry.test/$ref" "docker://$TARGET/bench/$ref" \
                >>"$WORK/skopeo-push-$r.log" 2>&1 ||
                { tail -n 20 "$WORK/skopeo-push-$r.log" >&2; die "skopeo copy of $ref from the bundle failed"; }
        done
        t1=$(now)
        secs=$(elapsed "$t0" "$t1")
        printf '%s\t%s\t\t%s\n' push_skopeo "$secs" "$BUNDLE_BYTES" >>"$SAMPLES"
        log "run $r/$RUNS: skopeo copy oci-archive -> registry ${secs}s"
        stop_target skopeo
    done
}

run_resolve() {
    local dir=$WORK/resolve r secs pkgs="containerd runc socat conntrack ipset ebtables ethtool iptables"
    mkdir -p "$dir/cache"
    cat >"$dir/nodes.yaml" <<YAML
apiVersion: outpost/v1alpha1
kind: Release
metadata: {name: nodes, version: "1"}
spec:
  platforms: [linux/amd64]
  packages:
    apt:
      - source: system
        packages: [${pkgs// /, }]
YAML
    : >"$dir/empty-status"
    "$OUTPOST" lock "$dir/nodes.yaml" --cache "$dir/cache" >/dev/null || die "outpost lock of the host's packages failed (no apt sources or no network to the archive?)"
    for ((r = 1; r <= RUNS; r++)); do
        secs=$(timed resolve_lock 0 "$WORK/resolve-$r.log" "$OUTPOST" lock "$dir/nodes.yaml" --cache "$dir/cache")
        log "run $r/$RUNS: outpost lock (warm indexes) ${secs}s"
        # shellcheck disable=SC2086
        secs=$(timed apt_simulate 0 "$WORK/apt-$r.log" apt-get install --simulate -y -o Dir::State::status="$dir/empty-status" $pkgs)
        log "run $r/$RUNS: apt-get install --simulate ${secs}s"
    done
}

case "$MODE" in
    build) run_build ;;
    verify) run_verify ;;
    serve) run_serve ;;
    push) run_push ;;
    resolve) run_resolve ;;
    all)
        run_build
        run_verify
        run_push
        run_serve
        # resolve needs the host's apt sources and the network to them: when they are not
        # there, the other figures still make the table (run in a subshell: `die` exits it).
        (run_resolve) || log "WARNING: resolve could not run (no apt sources or network); its rows are left out"
        ;;
esac

# --- report ------------------------------------------------------------------------------------
mkdir -p "$(dirname "$JSON_OUT")"
BENCH_MODE=$MODE BENCH_RUNS=$RUNS BENCH_COUNT=$COUNT BENCH_BASE_MIB=$BASE_MIB \
    BENCH_LAYER_MIB=$LAYER_MIB BENCH_CORPUS_BYTES=$CORPUS_BYTES \
    BENCH_SERVE_SECONDS=$SERVE_SECONDS BENCH_SERVE_BUNDLE_BYTES=$SERVE_BUNDLE_BYTES \
    BENCH_SERVE_IMAGES=$SERVE_IMAGES BENCH_SERVE_FILLERS=$SERVE_FILLERS \
    BENCH_BLOB_BYTES=$BIG_BLOB_BYTES BENCH_BLOB_CLIENTS=$BLOB_CLIENTS \
    python3 - "$SAMPLES" "$JSON_OUT" "$WORK/openssl.log" <<'EOF'
import json, os, re, statistics, sys

samples_path, json_path, openssl_log = sys.argv[1:4]
env = os.environ
runs, count = int(env["BENCH_RUNS"]), int(env["BENCH_COUNT"])
base_mib, layer_mib = int(env["BENCH_BASE_MIB"]), int(env["BENCH_LAYER_MIB"])
samples = {}
for line in open(samples_path):
    # figure, seconds, peak RSS KiB, bytes [, JSON object with more fields (serve figures)]
    fields = line.rstrip("\n").split("\t")
    fig, secs, rss, nbytes = fields[:4]
    entry = {"seconds": float(secs), "peak_rss_kib": int(rss) if rss else None, "bytes": int(nbytes or 0)}
    if len(fields) > 4 and fields[4]:
        entry.update(json.loads(fields[4]))
    samples.setdefault(fig, []).append(entry)

def med(fig, key="seconds"):
    vals = [s[key] for s in samples.get(fig, []) if s[key] is not None]
    return statistics.median(vals) if vals else None

def mbps(fig):
    vals = [s["bytes"] / s["seconds"] / 1e6 for s in samples.get(fig, []) if s["seconds"] > 0]
    return statistics.median(vals) if vals else None

def rss_mib(fig):
    vals = [s["peak_rss_kib"] for s in samples.get(fig, []) if s["peak_rss_kib"] is not None]
    return max(vals) / 1024 if vals else None

def extra_med(fig, key):
    vals = [s[key] for s in samples.get(fig, []) if s.get(key) is not None]
    return statistics.median(vals) if vals else None

def rel(a, b):
    return a / b if a is not None and b else None

openssl_mbps = None
if os.path.exists(openssl_log):
    for line in open(openssl_log):
        m = re.match(r"^sha256\s+([\d.]+)k\s*$", line.strip())
        if m:
            openssl_mbps = float(m.group(1)) * 1000 / 1e6

rows = []
def row(figure, unit, ours, peer, peer_name, ratio, ratio_note, rss):
    rows.append({"figure": figure, "unit": unit, "outpost_median": ours, "peer": peer_name,
                 "peer_median": peer, "ratio": ratio, "ratio_note": ratio_note,
                 "outpost_peak_rss_mib": rss})

cold, sko, warm = med("cold_build"), med("skopeo_copy"), med("warm_build")
if cold is not None:
    row("cold build (s)", "s", cold, sko, "skopeo copy (sequential, one OCI layout)",
        cold / sko if sko else None, "outpost/skopeo time; < 1 = outpost faster", rss_mib("cold_build"))
if warm is not None:
    row("warm rebuild (s)", "s", warm, cold, "outpost cold build",
        warm / cold if cold else None, "warm/cold time as %; lower is better", rss_mib("warm_build"))
res, aptsim = med("resolve_lock"), med("apt_simulate")
if res is not None:
    row("resolve 8 node packages, amd64, warm indexes (s)", "s", res, aptsim, "apt-get install --simulate (empty status)",
        res / aptsim if aptsim else None, "outpost/apt time; < 1 = outpost faster", rss_mib("resolve_lock"))
noop = med("noop_build")
if noop is not None:
    row("warm rebuild, bundle up to date (s)", "s", noop, cold, "outpost cold build",
        noop / cold if cold else None, "warm/cold time as %; lower is better", rss_mib("noop_build"))
ver, sha = mbps("verify"), mbps("sha256sum")
if ver is not None:
    row("verify (MB/s)", "MB/s", ver, sha, "sha256sum of the bundle",
        ver / sha if sha else None, "outpost/sha256sum throughput; > 1 = outpost faster", rss_mib("verify"))
    dgst = mbps("openssl_dgst")
    if dgst:
        row("verify vs openssl dgst (MB/s)", "MB/s", ver, dgst, "openssl dgst -sha256 of the bundle",
            ver / dgst, "outpost/openssl throughput; > 1 = outpost faster", None)
    if openssl_mbps:
        row("verify vs sha256 ceiling (MB/s)", "MB/s", ver, openssl_mbps, "openssl speed sha256 (1 core, in memory)",
            ver / openssl_mbps, "outpost/openssl throughput; > 1 = outpost faster", None)

push, skopush, again = med("push_outpost"), med("push_skopeo"), med("push_repeat")
if push is not None:
    row("push bundle into distribution (s)", "s", push, skopush, "skopeo copy --all oci-archive:BUNDLE -> registry",
        rel(push, skopush), "outpost/skopeo time; < 1 = outpost faster; goal <= 0.5", rss_mib("push_outpost"))
    row("push again, nothing to upload (s)", "s", again, push, "outpost first push",
        rel(again, push), "repeat/first time; 0 blob bytes uploaded (checked)", rss_mib("push_repeat"))

# serve figures: outpost vs a fresh distribution instance on the same images
PEER = "distribution (docker-registry)"
warnings = []
serve_bundle_bytes = int(env.get("BENCH_SERVE_BUNDLE_BYTES") or 0)
blob_bytes = int(env.get("BENCH_BLOB_BYTES") or 0)
clients = int(env.get("BENCH_BLOB_CLIENTS") or 0)
if "serve_manifest_outpost" in samples:
    ours, peer = extra_med("serve_manifest_outpost", "requests_per_s"), extra_med("serve_manifest_peer", "requests_per_s")
    row("manifest GETs/s (wrk -t2 -c64)", "req/s", ours, peer, PEER, rel(ours, peer),
        "outpost/distribution requests per second; > 1 = outpost faster; goal >= 2", rss_mib("serve_rss_outpost"))
    ours, peer = mbps("serve_blob_outpost"), mbps("serve_blob_peer")
    row(f"blob GETs, {clients} clients x {blob_bytes / 2**20:.0f} MiB (MB/s)", "MB/s", ours, peer, PEER,
        rel(ours, peer), "outpost/distribution aggregate throughput; > 1 = outpost faster; goal >= 1",
        rss_mib("serve_rss_outpost"))
    NGINX = "nginx, the same files as static files (sendfile)"
    ours, peer = extra_med("serve_manifest_outpost", "requests_per_s"), extra_med("serve_manifest_nginx", "requests_per_s")
    if peer:
        row("manifest GETs/s vs static files (wrk -t2 -c64)", "req/s", ours, peer, NGINX, rel(ours, peer),
            "outpost/nginx requests per second; nginx is the reference, not a registry", None)
    ours, peer = mbps("serve_blob_outpost"), mbps("serve_blob_nginx")
    if peer:
        row(f"blob GETs vs static files, {clients} clients x {blob_bytes / 2**20:.0f} MiB (MB/s)", "MB/s", ours, peer,
            NGINX, rel(ours, peer), "outpost/nginx throughput; nginx is the physical limit here", None)
    for cache, label in (("cold", "files evicted from page cache"), ("warm", "page-cached")):
        ours, peer = med(f"serve_start_{cache}_outpost"), med(f"serve_start_{cache}_peer")
        row(f"start-up to first manifest GET, {serve_bundle_bytes / 2**30:.1f} GiB bundle, {label} (ms)", "ms",
            ours * 1000 if ours is not None else None, peer * 1000 if peer is not None else None, PEER,
            rel(ours, peer), "outpost/distribution time; < 1 = outpost faster; goal <= 1000 ms", None)
    ours, peer = extra_med("serve_rss_outpost", "peak_rss_kib"), extra_med("serve_rss_peer", "peak_rss_kib")
    row("serve peak RSS under the loads above, VmHWM (MiB)", "MiB",
        ours / 1024 if ours is not None else None, peer / 1024 if peer is not None else None, PEER,
        rel(ours, peer), "outpost/distribution memory; < 1 = outpost smaller; goal <= 64 MiB",
        rss_mib("serve_rss_outpost"))
    for who, name in (("outpost", "outpost"), ("peer", "distribution")):
        for s in samples.get(f"serve_manifest_{who}", []):
            if s["non_2xx"] or s["socket_errors"]:
                warnings.append(f"{name} manifests: {s['non_2xx']} non-2xx answers, "
                                f"{s['socket_errors']} socket errors in one wrk run")
        for s in samples.get(f"serve_blob_{who}", []):
            if s["failed"]:
                warnings.append(f"{name} blob: {s['failed']} of {s['clients']} GETs failed or came back short")

LOWER_BETTER = ("s", "ms", "MiB")

def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "s":
        return f"{v:.2f}"
    if unit == "MiB":
        return f"{v:.1f}"
    return f"{v:.0f}"

bundle_bytes = max((s["bytes"] for s in samples.get("verify", [])), default=None)
print()
print(f"outpost bench: {count} images x {layer_mib} MiB on a shared {base_mib} MiB base; "
      f"{runs} run(s); medians"
      + (f"; bundle {bundle_bytes/1e6:.0f} MB" if bundle_bytes else ""))
if serve_bundle_bytes:
    print(f"serve: bundle {serve_bundle_bytes/1e6:.0f} MB ({env['BENCH_SERVE_IMAGES']} images, "
          f"{env['BENCH_SERVE_FILLERS']} of them filler); manifests: wrk -t2 -c64 -d{env['BENCH_SERVE_SECONDS']}s; "
          f"blob: {clients} parallel curl; RUST_LOG=warn; fresh servers every run")
hdr = ["figure", "outpost median", "peer", "peer median", "ratio", "outpost peak RSS"]
table = []
for r in rows:
    if r["ratio"] is None:
        ratio = "-"
    elif r["figure"].startswith("warm"):
        ratio = f"{r['ratio']*100:.0f}% of cold"
    elif r["unit"] in LOWER_BETTER:
        ratio = f"{r['ratio']:.2f}x (lower better)"
    else:
        ratio = f"{r['ratio']:.2f}x (higher better)"
    rss = "-" if r["outpost_peak_rss_mib"] is None else f"{r['outpost_peak_rss_mib']:.0f} MiB"
    table.append([r["figure"], fmt(r["outpost_median"], r["unit"]), r["peer"],
                  fmt(r["peer_median"], r["unit"]), ratio, rss])
widths = [max(len(x[i]) for x in [hdr] + table) for i in range(len(hdr))]
line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
print(line(hdr))
print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
for t in table:
    print(line(t))
for w in warnings:
    print(f"WARNING: {w}")

result = {
    "corpus": {"images": count, "base_mib": base_mib, "layer_mib": layer_mib,
               "registry_bytes": int(env["BENCH_CORPUS_BYTES"])},
    "runs": runs, "mode": env["BENCH_MODE"], "bundle_bytes": bundle_bytes,
    "rows": rows, "samples": samples,
}
if openssl_mbps:
    result["openssl_sha256_mbps"] = openssl_mbps
if serve_bundle_bytes:
    result["serve"] = {"bundle_bytes": serve_bundle_bytes, "images": int(env["BENCH_SERVE_IMAGES"]),
                       "filler_images": int(env["BENCH_SERVE_FILLERS"]), "blob_bytes": blob_bytes,
                       "blob_clients": clients, "wrk": f"-t2 -c64 -d{env['BENCH_SERVE_SECONDS']}s",
                       "warnings": warnings}
with open(json_path, "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")
print(f"\nJSON: {json_path}")
EOF

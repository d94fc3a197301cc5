#!/usr/bin/env bash
# Benchmark outpost against the tools an operator would otherwise use.
#
#   scripts/bench.sh [build|verify|all]      (default: all = build + verify)
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
# A table goes to stdout and the same figures, with every sample, to BENCH_JSON.
#
# Environment:
#   BENCH_COUNT (10)  BENCH_BASE_MIB (100)  BENCH_LAYER_MIB (45)   corpus: COUNT images of
#                     LAYER_MIB each on one shared BASE_MIB layer (defaults: 550 MiB unique)
#   BENCH_RUNS (3)    repetitions of every measurement
#   BENCH_JSON        JSON output (default: bundles/bench.json in the repository)
#   BENCH_TIMEOUT     overall time budget in seconds (default 900); every step is cut off there
#   OUTPOST           outpost binary (default: target/release/outpost, built with
#                     `cargo build --release` first unless BENCH_NO_CARGO=1)
#   TMPDIR            where the temporary directory goes (needs ~4x the corpus size free)
set -euo pipefail

MODE=${1:-all}
case "$MODE" in
    build | verify | all) ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "usage: $0 [build|verify|all]" >&2
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
for v in COUNT BASE_MIB LAYER_MIB RUNS BUDGET; do
    if ! [[ ${!v} =~ ^[0-9]+$ ]] || ((${!v} < 1)); then
        echo "bench: $v must be a positive integer (got '${!v}')" >&2
        exit 2
    fi
done

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

# --- temp dir, cleanup, time budget ------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/outpost-bench.XXXXXX")
REGISTRY_PID=""
cleanup() {
    local rc=$?
    if [[ -n $REGISTRY_PID ]] && kill -0 "$REGISTRY_PID" 2>/dev/null; then
        kill "$REGISTRY_PID" 2>/dev/null || true
        wait "$REGISTRY_PID" 2>/dev/null || true
    fi
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

run_verify() {
    if [[ -z $BUNDLE ]]; then
        # verify only: build one bundle to read (not timed as a figure)
        log "building a bundle to verify"
        mkdir -p "$WORK/keep"
        bounded "$OUTPOST" bundle build "$MANIFEST" --key "$KEY" --out "$WORK/keep" \
            --cache "$WORK/vcache" >"$WORK/vbuild.log" 2>&1 ||
            { tail -n 20 "$WORK/vbuild.log" >&2; die "outpost bundle build failed"; }
        rm -rf "$WORK/vcache"
        BUNDLE=$(find_bundle "$WORK/keep")
        BUNDLE_BYTES=$(stat -c %s "$BUNDLE")
    fi
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

case "$MODE" in
    build) run_build ;;
    verify) run_verify ;;
    all)
        run_build
        run_verify
        ;;
esac

# --- report ------------------------------------------------------------------------------------
mkdir -p "$(dirname "$JSON_OUT")"
BENCH_MODE=$MODE BENCH_RUNS=$RUNS BENCH_COUNT=$COUNT BENCH_BASE_MIB=$BASE_MIB \
    BENCH_LAYER_MIB=$LAYER_MIB BENCH_CORPUS_BYTES=$CORPUS_BYTES \
    python3 - "$SAMPLES" "$JSON_OUT" "$WORK/openssl.log" <<'EOF'
import json, os, re, statistics, sys

samples_path, json_path, openssl_log = sys.argv[1:4]
env = os.environ
runs, count = int(env["BENCH_RUNS"]), int(env["BENCH_COUNT"])
base_mib, layer_mib = int(env["BENCH_BASE_MIB"]), int(env["BENCH_LAYER_MIB"])
samples = {}
for line in open(samples_path):
    fig, secs, rss, nbytes = line.rstrip("\n").split("\t")
    samples.setdefault(fig, []).append(
        {"seconds": float(secs), "peak_rss_kib": int(rss) if rss else None, "bytes": int(nbytes or 0)})

def med(fig, key="seconds"):
    vals = [s[key] for s in samples.get(fig, []) if s[key] is not None]
    return statistics.median(vals) if vals else None

def mbps(fig):
    vals = [s["bytes"] / s["seconds"] / 1e6 for s in samples.get(fig, []) if s["seconds"] > 0]
    return statistics.median(vals) if vals else None

def rss_mib(fig):
    vals = [s["peak_rss_kib"] for s in samples.get(fig, []) if s["peak_rss_kib"] is not None]
    return max(vals) / 1024 if vals else None

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

def fmt(v, unit):
    if v is None:
        return "-"
    return f"{v:.2f}" if unit == "s" else f"{v:.0f}"

bundle_bytes = max((s["bytes"] for s in samples.get("verify", [])), default=None)
print()
print(f"outpost bench: {count} images x {layer_mib} MiB on a shared {base_mib} MiB base; "
      f"{runs} run(s); medians"
      + (f"; bundle {bundle_bytes/1e6:.0f} MB" if bundle_bytes else ""))
hdr = ["figure", "outpost median", "peer", "peer median", "ratio", "outpost peak RSS"]
table = []
for r in rows:
    if r["ratio"] is None:
        ratio = "-"
    elif r["figure"].startswith("warm"):
        ratio = f"{r['ratio']*100:.0f}% of cold"
    elif r["unit"] == "s":
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

result = {
    "corpus": {"images": count, "base_mib": base_mib, "layer_mib": layer_mib,
               "registry_bytes": int(env["BENCH_CORPUS_BYTES"])},
    "runs": runs, "mode": env["BENCH_MODE"], "bundle_bytes": bundle_bytes,
    "rows": rows, "samples": samples,
}
if openssl_mbps:
    result["openssl_sha256_mbps"] = openssl_mbps
with open(json_path, "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")
print(f"\nJSON: {json_path}")
EOF

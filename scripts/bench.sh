#!/usr/bin/env bash
# Benchmark outpost against the tools an operator would otherwise use.
#
#   scripts/bench.sh [build|verify|serve|push|supply|charts|resolve|ui|rpm|scale|all]   (default: all = every mode but ui and rpm)
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
#           machine's single-core `openssl speed` sha256 rate (in-memory ceiling).
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
#             token flow the manifest GETs again against `outpost serve --auth` with a bearer
#                        token from its /token endpoint: on/off ratio (goal >= 0.8)
#   push    `outpost push` of the bundle into a fresh `docker-registry` vs `skopeo copy --all
#           oci-archive:BUNDLE:REF docker://...` of the same images into another fresh one,
#           BENCH_RUNS times alternating; then the same push again into the first (it must
#           upload 0 bytes).
#   supply  `outpost lock` of BENCH_SIGNED (50) small images, each signed under cosign's tag
#           scheme (scripts/cosign_sign.py), with referrer discovery and key verification vs
#           the same lock with referrers off; cold cache, BENCH_RUNS times alternating.
#   charts  `outpost lock` of one chart from a generated chart repository index.yaml the size of
#           the biggest public ones (BENCH_CHART_VERSIONS, default 18,000 versions, ~28 MB):
#           time and peak RSS (goal <= 2 s, <= 256 MiB) vs python3's YAML load of the index.
#   ui      the site dashboard: a bundle of BENCH_UI_IMAGES (5,000) tiny images written
#           straight into a registry's storage (scripts/bench/ui_corpus.py), served; each /ui
#           page timed with curl, BENCH_UI_SAMPLES (21) GETs, median and max (goal <= 200 ms).
#           `BENCH_UI_IMAGES=5000 scripts/bench.sh ui`; it needs no corpus of its own.
#   rpm     `outpost lock` of an RPM closure against a generated rpm-md repository of
#           BENCH_RPM_PACKAGES (32,000) packages (scripts/bench/rpm_corpus.py) vs dnf's own
#           resolution of the same request (`dnf install --assumeno` into an empty root), cold
#           caches, BENCH_RUNS times: time and peak RSS ratios (goal <= 0.5x dnf's time).
#           It needs no corpus of its own.
#   scale   real sizes (issue 17): SCALE_IMAGES (5000) tiny images written straight into a
#           registry's storage, one SCALE_BIG_LAYER_GB (10) GiB layer and fillers up to SCALE_GB
#           (28 GiB = 30.1 GB) made up on the fly by scripts/bench/blobserve.py: lock, cold and
#           warm (--locked) build vs cp (best of SCALE_COPY_RUNS (2) each), verify vs dd and one core's sha256, load, serve
#           start-up / manifests / blob / RSS, push; build, cp, verify, load and serve under a
#           SCALE_MEMORY_LIMIT (4G) cgroup when one can be made. Needs 2.1x SCALE_GB + 1 GiB
#           free (checked first); see scripts/bench/scale.sh. It prints its own table.
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
    build | verify | serve | push | supply | charts | resolve | ui | rpm | scale | all) ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "usage: $0 [build|verify|serve|push|supply|charts|resolve|ui|rpm|scale|all]" >&2
        exit 2
        ;;
esac

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The functions live in scripts/bench/*.sh; the top-level flow stays here, in order.
# shellcheck source=scripts/bench/common.sh
source "$REPO_ROOT/scripts/bench/common.sh"
# shellcheck source=scripts/bench/build.sh
source "$REPO_ROOT/scripts/bench/build.sh"
# shellcheck source=scripts/bench/serve.sh
source "$REPO_ROOT/scripts/bench/serve.sh"
# shellcheck source=scripts/bench/push.sh
source "$REPO_ROOT/scripts/bench/push.sh"
# shellcheck source=scripts/bench/supply.sh
source "$REPO_ROOT/scripts/bench/supply.sh"
# shellcheck source=scripts/bench/charts.sh
source "$REPO_ROOT/scripts/bench/charts.sh"
# shellcheck source=scripts/bench/ui.sh
source "$REPO_ROOT/scripts/bench/ui.sh"
# shellcheck source=scripts/bench/rpm.sh
source "$REPO_ROOT/scripts/bench/rpm.sh"
# shellcheck source=scripts/bench/scale.sh
source "$REPO_ROOT/scripts/bench/scale.sh"
# shellcheck source=scripts/bench/report.sh
source "$REPO_ROOT/scripts/bench/report.sh"

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

# --- tools -------------------------------------------------------------------------------------
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
    need htpasswd "install htpasswd (Debian package 'apache2-utils') for the token-flow measurement"
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
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

START=$(date +%s)
DEADLINE=$((START + BUDGET))

SAMPLES=$WORK/samples.tsv # figure <TAB> seconds <TAB> peak RSS KiB (or empty) <TAB> bytes
: >"$SAMPLES"

# The dashboard figure needs no corpus: it writes its own many small images.
if [[ $MODE == ui ]]; then
    need curl "install curl for the ui measurements"
    run_ui
    exit 0
fi
# Nor does the scale figure: it writes its own corpus at the sizes asked for.
if [[ $MODE == scale ]]; then
    run_scale
    exit 0
fi

# The RPM figure needs no corpus either: it writes its own repository metadata.
if [[ $MODE == rpm ]]; then
    run_rpm
    exit 0
fi

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

# --- serve -------------------------------------------------------------------------------------
ACCEPT_MANIFEST="Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"
BLOB_CLIENTS=8
SERVE_BUNDLE=""
SERVE_BUNDLE_BYTES=0
SERVE_IMAGES=0
SERVE_FILLERS=0
BIG_BLOB=""
BIG_BLOB_BYTES=0
SUPPLY_IMAGES=0
CHART_INDEX_BYTES=0
CHART_VERSIONS=0
SAMPLE_EXTRA="" # JSON for the 5th column of the next sample line (serve figures)

case "$MODE" in
    build) run_build ;;
    verify) run_verify ;;
    serve) run_serve ;;
    push) run_push ;;
    supply) run_supply ;;
    charts) run_charts ;;
    resolve) run_resolve ;;
    all)
        run_build
        run_verify
        run_push
        run_supply
        run_charts
        run_serve
        # resolve needs the host's apt sources and the network to them: when they are not
        # there, the other figures still make the table (run in a subshell: `die` exits it).
        (run_resolve) || log "WARNING: resolve could not run (no apt sources or network); its rows are left out"
        # scale needs room (2.1x SCALE_GB): when there is not, it says so first and the
        # other figures still make the table.
        (run_scale) || log "WARNING: scale did not complete (see above); its rows are left out"
        ;;
esac

# --- report ------------------------------------------------------------------------------------
report

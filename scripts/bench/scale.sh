# shellcheck shell=bash
# Sourced by scripts/bench.sh: real sizes (mode `scale`, issue 17). run_scale writes
# SCALE_IMAGES (5,000) tiny images straight into a docker-registry storage root, and describes
# one image with a single SCALE_BIG_LAYER_GB (10) GiB layer and filler images up to SCALE_GB
# (28 GiB = 30.1 GB) of layers for scripts/bench/blobserve.py, a loopback registry that makes
# those layers up as it sends them (scripts/bench/scale_corpus.py --generated): the upstream
# holds no copy of the big bytes, so the run needs about twice SCALE_GB free (the cache and
# the bundle, later the bundle and a copy, the store or the push target). It then times, each
# with its peak RSS:
#   lock, cold build, a warm rebuild from the lockfile (`--locked`) and a `cp` of the bundle
#   (same run, same memory limit, page cache dropped before each, best of SCALE_COPY_RUNS (2)
#   each: ratio, goal <= 1.2),
#   verify (page cache dropped when root) vs the disk's sequential read rate (dd of the bundle,
#   cache dropped) and one core's sha256 rate (python hashlib over 256 MiB in memory),
#   inspect, load into a site store, serve start-up (cache dropped) to the first manifest 200, manifest
#   requests/s (wrk, or curl when wrk is missing), blob MB/s (the big layer, 4 curl clients),
#   serve's peak RSS, and push into a fresh docker-registry.
# build, cp, verify, load and serve run under a SCALE_MEMORY_LIMIT (4G) memory limit when one can
# be set (systemd-run -p MemoryMax, else a cgroup v1 or v2 directory nested in this shell's
# own); the table says which. Before anything is written the free space at TMPDIR is checked
# against 2.1x SCALE_GB + 1 GiB; every copy is removed as soon as the steps after it no
# longer need it, and the work dir at exit.
#
#   SCALE_IMAGES=2000 SCALE_GB=4 SCALE_BIG_LAYER_GB=2 scripts/bench.sh scale

SCALE_CG="" # the memory-limit cgroup directory, when one was made

# memory_limit_setup LIMIT: sets LIMIT_HOW (how) and LIMIT_PREFIX (a command prefix).
memory_limit_setup() {
    local limit=$1 bytes own
    LIMIT_HOW="none" LIMIT_PREFIX=()
    bytes=$(numfmt --from=iec "$limit")
    if command -v systemd-run >/dev/null 2>&1 &&
        systemd-run --quiet --scope -p "MemoryMax=$limit" true >/dev/null 2>&1; then
        LIMIT_HOW="systemd-run -p MemoryMax=$limit" LIMIT_PREFIX=(systemd-run --quiet --scope -p "MemoryMax=$limit")
        return
    fi
    own=$(awk -F: '$2 == "memory" {print $3}' /proc/self/cgroup)
    if [[ -n $own && -d /sys/fs/cgroup/memory$own ]] &&
        mkdir "/sys/fs/cgroup/memory$own/outpost-bench-$$" 2>/dev/null; then
        SCALE_CG=/sys/fs/cgroup/memory$own/outpost-bench-$$
        echo "$bytes" >"$SCALE_CG/memory.limit_in_bytes" || { rmdir "$SCALE_CG"; SCALE_CG=""; return; }
        LIMIT_HOW="cgroup v1 memory.limit_in_bytes=$limit"
    else
        own=$(awk -F: '$1 == "0" {print $3}' /proc/self/cgroup)
        [[ -f /sys/fs/cgroup/cgroup.controllers ]] || return 0
        mkdir "/sys/fs/cgroup${own%/}/outpost-bench-$$" 2>/dev/null || return 0
        SCALE_CG=/sys/fs/cgroup${own%/}/outpost-bench-$$
        echo "$bytes" >"$SCALE_CG/memory.max" || { rmdir "$SCALE_CG"; SCALE_CG=""; return; }
        LIMIT_HOW="cgroup v2 memory.max=$limit"
    fi
    # shellcheck disable=SC2016 # expanded by the inner shell
    LIMIT_PREFIX=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$SCALE_CG")
}

memory_limit_teardown() {
    [[ -n $SCALE_CG ]] || return 0
    local killed=""
    # OOM kills inside the limit (v1: memory.oom_control, v2: memory.events); page-cache
    # reclaim at the limit is normal and not counted.
    [[ -f $SCALE_CG/memory.oom_control ]] && killed=$(awk '$1 == "oom_kill" {print $2}' "$SCALE_CG/memory.oom_control")
    [[ -f $SCALE_CG/memory.events ]] && killed=$(awk '$1 == "oom_kill" {print $2}' "$SCALE_CG/memory.events")
    log "scale: OOM kills under the memory limit: ${killed:-unknown}"
    rmdir "$SCALE_CG" 2>/dev/null || true
    SCALE_CG=""
}

# drop_caches: evict the page cache (root only); says whether it did.
drop_caches() {
    sync
    if echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then echo dropped; else echo cached; fi
}

# rss_of PID: VmHWM (KiB) of a running process.
rss_of() { awk '/^VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo ""; }

# row FIGURE SECONDS RSS_KIB NOTE: one line of the table.
row() { printf '%-34s %12s %12s  %s\n' "$1" "$2" "${3:+$(($3 / 1024)) MiB}" "$4"; }

# faster SECS BEST: whether SECS beats BEST (or there is no BEST yet).
faster() { [[ -z $2 ]] || python3 -c "import sys; sys.exit(not $1 < $2)"; }

run_scale() {
    local images=${SCALE_IMAGES:-5000} gb=${SCALE_GB:-28} big=${SCALE_BIG_LAYER_GB:-10}
    local limit=${SCALE_MEMORY_LIMIT:-4G} dir=$WORK/scale copy_runs=${SCALE_COPY_RUNS:-2}
    local need_kib avail_kib reg_port gen_port port secs bytes rss t0 t1 cache_state status
    for v in images gb big copy_runs; do
        [[ ${!v} =~ ^[0-9]+$ ]] || die "SCALE_${v^^}: a whole number please (got '${!v}')"
    done
    ((copy_runs >= 1)) || die "SCALE_COPY_RUNS: 1 or more please"
    ((big <= gb)) || die "SCALE_BIG_LAYER_GB ($big) is more than SCALE_GB ($gb)"
    mkdir -p "$dir"
    need_kib=$((gb * 1024 * 1024 * 21 / 10 + 1024 * 1024))
    avail_kib=$(df -Pk "$dir" | awk 'NR == 2 {print $4}')
    ((avail_kib >= need_kib)) ||
        die "scale: $((need_kib / 1024 / 1024)) GiB free needed at $dir for SCALE_GB=$gb (cache and bundle, then bundle and a copy); $((avail_kib / 1024 / 1024)) GiB free. Lower SCALE_GB or point TMPDIR at a bigger disk"
    need numfmt "install coreutils"
    need curl "install curl"
    memory_limit_setup "$limit"
    local -a L=("${LIMIT_PREFIX[@]}")
    log "scale: $images images, $gb GiB of layers with one $big GiB layer; memory limit: $LIMIT_HOW"

    bounded python3 "$REPO_ROOT/scripts/bench/scale_corpus.py" "$dir/registry" --count "$images" \
        --total-gib "$gb" --big-gib "$big" --generated "$dir/generated.json" >"$dir/images.txt" ||
        die "scale_corpus.py failed"
    reg_port=$(free_port)
    printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: 127.0.0.1:%s}\n' \
        "$dir/registry" "$reg_port" >"$dir/registry.yml"
    docker-registry serve "$dir/registry.yml" >"$dir/registry.log" 2>&1 &
    REGISTRY_PID=$!
    wait_port "$reg_port" || die "docker-registry did not start (see $dir/registry.log)"
    gen_port=$(free_port)
    python3 "$REPO_ROOT/scripts/bench/blobserve.py" "$dir/generated.json" "$gen_port" >"$dir/blobserve.log" 2>&1 &
    PEER_PID=$!
    wait_port "$gen_port" || die "blobserve.py did not start (see $dir/blobserve.log)"
    {
        echo "apiVersion: outpost/v1alpha1"
        echo "kind: Release"
        echo "metadata: {name: scale, version: \"1\"}"
        echo "spec:"
        echo "  platforms: [linux/amd64]"
        echo "  upstreams:"
        echo "    registry.test: \"http://127.0.0.1:$reg_port\""
        echo "    generated.test: \"http://127.0.0.1:$gen_port\""
        echo "  images:"
        sed 's|^|    - |' "$dir/images.txt"
    } >"$dir/scale.yaml"
    export OUTPOST_KEY_PASSWORD=bench-password
    "$OUTPOST" key generate --out "$dir/keys" >/dev/null || die "outpost key generate failed"
    local pub=$dir/keys/outpost.pub key=$dir/keys/outpost.key
    : >"$dir/table"

    secs=$(timed scale_lock 0 "$dir/lock.log" "$OUTPOST" lock "$dir/scale.yaml" --cache "$dir/cache")
    row lock "$secs" "$(tail -n 1 "$WORK/rss")" "$images + $(($(wc -l <"$dir/images.txt") - images)) images" >>"$dir/table"
    secs=$(timed scale_build_cold 0 "$dir/build.log" "${L[@]}" "$OUTPOST" bundle build "$dir/scale.yaml" \
        --key "$key" --out "$dir/out" --cache "$dir/cache")
    local bundle=$dir/out/scale-1.tar
    bytes=$(stat -c %s "$bundle")
    row "build (cold)" "$secs" "$(tail -n 1 "$WORK/rss")" "$((bytes / 1048576)) MiB bundle" >>"$dir/table"

    # The warm rebuild (the same lockfile, every blob in the cache, a fresh out dir) against a
    # cp of the bundle, under the same conditions: the page cache dropped before each, both
    # under the memory limit, each run SCALE_COPY_RUNS (2) times and the best kept, since a
    # shared disk's rate swings by a third from one minute to the next. The warm rebuilds go
    # first, while the cache exists (the cold bundle is removed first, so the disk holds two
    # copies at most); then the cache is removed and the bundle copied.
    local cp_secs="" warm_secs="" warm_rss="" s
    for _ in $(seq 1 "$copy_runs"); do
        rm -rf "$dir/out"
        drop_caches >/dev/null
        s=$(timed scale_build_warm "$bytes" "$dir/warm.log" "${L[@]}" "$OUTPOST" bundle build \
            "$dir/scale.yaml" --locked --key "$key" --out "$dir/out" --cache "$dir/cache")
        log "scale: warm rebuild ${s}s"
        if faster "$s" "$warm_secs"; then
            warm_secs=$s warm_rss=$(tail -n 1 "$WORK/rss")
        fi
    done
    stop_server "$REGISTRY_PID"
    stop_server "$PEER_PID"
    REGISTRY_PID="" PEER_PID=""
    rm -rf "$dir/registry" "$dir/cache"
    for _ in $(seq 1 "$copy_runs"); do
        rm -f "$dir/copy.tar"
        drop_caches >/dev/null
        s=$(timed scale_cp "$bytes" "$dir/cp.log" "${L[@]}" sh -c 'cp "$0" "$1" && sync' "$bundle" "$dir/copy.tar")
        log "scale: cp of the bundle ${s}s"
        if faster "$s" "$cp_secs"; then
            cp_secs=$s
        fi
    done
    rm -f "$dir/copy.tar"
    row "build (warm, --locked, fresh out)" "$warm_secs" "$warm_rss" \
        "$(python3 -c "print(f'{$warm_secs / $cp_secs:.2f}x the cp (goal <= 1.2), best of $copy_runs')")" >>"$dir/table"
    row "cp of the bundle (+ sync)" "$cp_secs" "" "$(python3 -c "print(f'{$bytes / $cp_secs / 1e6:.0f} MB/s, best of $copy_runs')")" >>"$dir/table"

    # The disk's sequential read rate and one core's sha256 rate, in this run.
    cache_state=$(drop_caches)
    t0=$(now)
    dd if="$bundle" of=/dev/null bs=4M status=none
    t1=$(now)
    local disk_rate sha_rate verify_rate
    disk_rate=$(python3 -c "print($bytes / $(elapsed "$t0" "$t1") / 1e6)")
    sha_rate=$(python3 -c '
import hashlib, time
b = bytes(256 << 20); t = time.perf_counter(); hashlib.sha256(b).digest()
print((256 << 20) / (time.perf_counter() - t) / 1e6)')
    row "disk read (dd, $cache_state)" "" "" "$(printf '%.0f MB/s' "$disk_rate")" >>"$dir/table"
    row "sha256, one core (hashlib)" "" "" "$(printf '%.0f MB/s' "$sha_rate")" >>"$dir/table"
    cache_state=$(drop_caches)
    secs=$(timed scale_verify "$bytes" "$dir/verify.log" "${L[@]}" "$OUTPOST" bundle verify "$bundle" --key "$pub")
    verify_rate=$(python3 -c "print($bytes / $secs / 1e6)")
    row "verify ($cache_state)" "$secs" "$(tail -n 1 "$WORK/rss")" "$(python3 -c "
v, d, s = $verify_rate, $disk_rate, $sha_rate
print(f'{v:.0f} MB/s = {v / d:.2f}x disk, {v / s:.2f}x sha256 (goal: 0.9x disk or 1.6x sha256, the lower)')")" >>"$dir/table"

    secs=$(timed scale_inspect 0 "$dir/inspect.log" "${L[@]}" "$OUTPOST" bundle inspect "$bundle" --json)
    row "inspect" "$secs" "$(tail -n 1 "$WORK/rss")" "" >>"$dir/table"

    cache_state=$(drop_caches)
    secs=$(timed scale_load "$bytes" "$dir/load.log" "${L[@]}" "$OUTPOST" load "$bundle" --store "$dir/store" --key "$pub")
    row "load ($cache_state)" "$secs" "$(tail -n 1 "$WORK/rss")" "$(python3 -c "print(f'{$bytes / $secs / 1e6:.0f} MB/s')")" >>"$dir/table"

    # serve the store: start-up with the page cache dropped, then requests.
    port=$(free_port)
    cache_state=$(drop_caches)
    t0=$(now)
    "${L[@]}" "$OUTPOST" serve --store "$dir/store" --key "$pub" --listen "127.0.0.1:$port" \
        >"$dir/serve.out" 2>"$dir/serve.log" &
    SERVE_PID=$!
    local url="http://127.0.0.1:$port/v2/registry.test/scale/app0/manifests/1"
    local accept="Accept: application/vnd.oci.image.manifest.v1+json"
    for _ in $(seq 1 3000); do
        status=$(curl -s -o /dev/null -H "$accept" -w '%{http_code}' "$url" || true)
        [[ $status == 200 ]] && break
        kill -0 "$SERVE_PID" 2>/dev/null || die "outpost serve exited (see $dir/serve.log)"
        sleep 0.01
    done
    t1=$(now)
    [[ $status == 200 ]] || die "outpost serve did not answer $url"
    secs=$(elapsed "$t0" "$t1")
    printf 'scale_serve_startup\t%s\t\t%s\n' "$secs" "$bytes" >>"$SAMPLES"
    row "serve start-up ($cache_state)" "$secs" "" "to the first manifest 200 (goal <= 1 s)" >>"$dir/table"
    local rps=""
    need wrk "install wrk (Debian package 'wrk'; scripts/test.sh does) for the manifest figure"
    rps=$(wrk -t2 -c64 -d5s -H "$accept" "$url" 2>/dev/null | awk '/^Requests\/sec/ {print $2}')
    row "manifests" "" "" "$(printf '%.0f requests/s' "$rps")" >>"$dir/table"
    printf 'scale_manifest_rps\t%s\t\t0\n' "$rps" >>"$SAMPLES"
    local big_manifest big_digest big_size
    big_manifest=$(curl -s -H "$accept" "http://127.0.0.1:$port/v2/generated.test/scale/big/manifests/1" || true)
    if [[ -n $big_manifest ]] && ((big > 0)); then
        read -r big_digest big_size < <(python3 -c 'import json,sys; l=json.loads(sys.argv[1])["layers"][0]; print(l["digest"], l["size"])' "$big_manifest")
        local -a curls=()
        t0=$(now)
        for _ in 1 2 3 4; do
            curl -s -o /dev/null "http://127.0.0.1:$port/v2/generated.test/scale/big/blobs/$big_digest" &
            curls+=($!)
        done
        wait "${curls[@]}" || true
        t1=$(now)
        secs=$(elapsed "$t0" "$t1")
        row "blob (4 clients, ${big} GiB layer)" "$secs" "" "$(python3 -c "print(f'{4 * $big_size / $secs / 1e6:.0f} MB/s aggregate')")" >>"$dir/table"
        printf 'scale_blob\t%s\t\t%s\n' "$secs" "$((4 * big_size))" >>"$SAMPLES"
    fi
    rss=$(rss_of "$SERVE_PID")
    row "serve peak RSS" "" "$rss" "(goal <= 64 MiB)" >>"$dir/table"
    printf 'scale_serve_rss\t0\t%s\t0\n' "$rss" >>"$SAMPLES"
    stop_server "$SERVE_PID"
    SERVE_PID=""
    rm -rf "$dir/store"

    start_target scale
    secs=$(timed scale_push "$bytes" "$dir/push.log" "$OUTPOST" push "$bundle" --key "$pub" \
        --to "$TARGET" --plain-http --json)
    row push "$secs" "$(tail -n 1 "$WORK/rss")" "$(python3 -c "print(f'{$bytes / $secs / 1e6:.0f} MB/s')")" >>"$dir/table"
    stop_target scale
    memory_limit_teardown

    printf '\nscale: %s images, %s GiB of layers (one %s GiB layer); memory limit: %s\n' \
        "$images" "$gb" "$big" "$LIMIT_HOW"
    printf '%-34s %12s %12s  %s\n' "step" "seconds" "peak RSS" ""
    cat "$dir/table"
    rm -rf "$dir"
}

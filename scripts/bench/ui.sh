# shellcheck shell=bash
# Sourced by scripts/bench.sh: the site dashboard figure (mode `ui`). run_ui writes
# BENCH_UI_IMAGES (default 5,000) small images straight into a docker-registry storage root
# (scripts/bench/ui_corpus.py), builds one signed bundle of them, serves it with
# `outpost serve`, and times every /ui page with curl: BENCH_UI_SAMPLES (default 21) GETs
# each, the median of `time_total` reported (goal <= 200 ms per page).
#
#   BENCH_UI_IMAGES=5000 scripts/bench.sh ui

run_ui() {
    local dir=$WORK/ui images=${BENCH_UI_IMAGES:-5000} samples=${BENCH_UI_SAMPLES:-21}
    local port reg_port page url median status
    mkdir -p "$dir"
    log "ui: writing $images images into a registry storage root"
    bounded python3 "$REPO_ROOT/scripts/bench/ui_corpus.py" "$dir/registry" --count "$images" \
        >"$dir/images.txt" || die "scripts/bench/ui_corpus.py failed"
    reg_port=$(free_port)
    cat >"$dir/registry.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $dir/registry
http:
  addr: 127.0.0.1:$reg_port
YML
    docker-registry serve "$dir/registry.yml" >"$dir/registry.log" 2>&1 &
    REGISTRY_PID=$!
    wait_port "$reg_port" || die "docker-registry did not start (see $dir/registry.log)"
    {
        echo "apiVersion: outpost/v1alpha1"
        echo "kind: Release"
        echo "metadata: {name: ui, version: \"1\"}"
        echo "spec:"
        echo "  platforms: [linux/amd64]"
        echo "  upstreams: {registry.test: \"http://127.0.0.1:$reg_port\"}"
        echo "  images:"
        sed 's|^|    - registry.test/|' "$dir/images.txt"
    } >"$dir/ui.yaml"
    export OUTPOST_KEY_PASSWORD=bench-password
    "$OUTPOST" key generate --out "$dir/keys" >/dev/null || die "outpost key generate failed"
    local secs
    secs=$(timed ui_bundle_build 0 "$dir/build.log" "$OUTPOST" bundle build "$dir/ui.yaml" \
        --key "$dir/keys/outpost.key" --out "$dir/bundles" --cache "$dir/cache")
    log "ui: bundle of $images images built in ${secs}s"
    port=$(free_port)
    "$OUTPOST" serve "$dir/bundles/ui-1.tar" --key "$dir/keys/outpost.pub" \
        --listen "127.0.0.1:$port" >"$dir/serve.out" 2>"$dir/serve.log" &
    SERVE_PID=$!
    for _ in $(seq 1 600); do
        status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz" || true)
        [[ $status == 200 ]] && break
        sleep 0.1
    done
    [[ $status == 200 ]] || die "outpost serve did not answer (see $dir/serve.log)"
    curl -s "http://127.0.0.1:$port/ui/release/ui/1" | grep -q "Images ($images)" ||
        die "the release page does not list $images images"
    printf '%-48s %12s %12s\n' "page" "median ms" "max ms"
    for page in "/ui/" "/ui/release/ui/1" "/ui/release/ui/1?page=25" \
        "/ui/release/ui/1?q=app4999" "/ui/release/ui/1?q=app1" "/ui/health"; do
        url="http://127.0.0.1:$port$page"
        status=$(curl -s -o /dev/null -w '%{http_code}' "$url")
        [[ $status == 200 ]] || die "GET $page answered $status"
        for _ in $(seq 1 "$samples"); do
            curl -s -o /dev/null -w '%{time_total}\n' "$url"
        done >"$dir/times.txt"
        read -r median max < <(python3 -c '
import statistics, sys
t = [float(l) * 1000 for l in open(sys.argv[1]) if l.strip()]
print(f"{statistics.median(t):.1f} {max(t):.1f}")' "$dir/times.txt")
        printf '%-48s %12s %12s\n' "$page" "$median" "$max"
        printf 'ui %s\t%s\t\t0\n' "$page" "$(python3 -c "print($median / 1000)")" >>"$SAMPLES"
    done
    stop_server "$SERVE_PID"
    SERVE_PID=""
}

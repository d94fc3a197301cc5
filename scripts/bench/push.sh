# shellcheck shell=bash
# Sourced by scripts/bench.sh: the push and resolve modes. start_target/stop_target (fresh
# docker-registry push targets), run_push (outpost push vs skopeo copy, then a no-op push) and
# run_resolve (outpost lock vs apt-get install --simulate).

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

# resolve: the Debian closure of a node's base packages from already-downloaded indexes of
# the host's apt sources (network only for the signed InRelease), vs apt-get --simulate.
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

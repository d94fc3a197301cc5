# shellcheck shell=bash
# Sourced by scripts/bench.sh: the build and verify modes. find_bundle, run_build (cold, skopeo,
# warm and up-to-date builds), ensure_bundle and run_verify (outpost verify vs sha256sum/openssl).

# find_bundle DIR: echo the path of the bundle (.tar) outpost wrote into DIR.
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
    need openssl "install openssl (Debian package 'openssl'; scripts/test.sh does): verify is measured against openssl dgst and openssl speed"
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
        secs=$(timed openssl_dgst "$BUNDLE_BYTES" "$WORK/dgst-$r.log" openssl dgst -sha256 "$BUNDLE")
        log "run $r/$RUNS: openssl dgst -sha256 ${secs}s"
    done
    log "openssl speed sha256 (1 MiB blocks, 2 s)"
    bounded openssl speed -seconds 2 -bytes 1048576 sha256 >"$WORK/openssl.log" 2>&1 || {
        tail -n 5 "$WORK/openssl.log" >&2
        die "openssl speed sha256 failed"
    }
}

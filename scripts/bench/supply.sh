# shellcheck shell=bash
# Sourced by scripts/bench.sh: the supply-chain figure. run_supply pushes BENCH_SIGNED small
# images to the loopback registry, signs each the way `cosign sign --key` does
# (scripts/cosign_sign.py, openssl), and times `outpost lock` of them with referrer discovery
# and key verification against `outpost lock` with referrers off, cold cache each time.

run_supply() {
    local dir=$WORK/supply n=${BENCH_SIGNED:-50} r secs line refs=() images=()
    need openssl "install openssl (signs the images)"
    mkdir -p "$dir"
    bounded python3 "$REPO_ROOT/scripts/testimages.py" "$dir/corpus" --set bench \
        --count "$n" --base-mib 1 --layer-mib 1 --first 1000 --seed supply >"$dir/images.txt" ||
        die "scripts/testimages.py (signed set) failed"
    mapfile -t lines <"$dir/images.txt"
    for line in "${lines[@]}"; do
        refs+=("${line##* }")
        bounded skopeo copy -q --all --preserve-digests --dest-tls-verify=false \
            "oci:${line% *}" "docker://$REG/${line##* }" || die "pushing ${line##* } failed"
    done
    rm -rf "$dir/corpus"
    openssl ecparam -genkey -name prime256v1 -noout -out "$dir/cosign.key" 2>/dev/null || die "openssl ecparam failed"
    openssl ec -in "$dir/cosign.key" -pubout -out "$dir/cosign.pub" 2>/dev/null || die "openssl ec -pubout failed"
    bounded python3 "$REPO_ROOT/scripts/cosign_sign.py" --registry "$REG" --key "$dir/cosign.key" "${refs[@]}" \
        >"$dir/signed.txt" || die "signing the images failed"
    log "supply: $n images signed under cosign's tag scheme"
    for ref in "${refs[@]}"; do images+=("    - registry.test/$ref"); done
    write_supply_manifest() { # NAME REFERRERS VERIFY
        {
            echo "apiVersion: outpost/v1alpha1"
            echo "kind: Release"
            echo "metadata: {name: $1, version: \"1\"}"
            echo "spec:"
            echo "  platforms: [linux/amd64]"
            echo "  upstreams: {registry.test: \"http://$REG\"}"
            echo "  referrers: {include: [$2]}"
            [[ -n $3 ]] && printf '  verify:\n    - {match: "registry.test/*", key: %s}\n' "$3"
            echo "  images:"
            printf '%s\n' "${images[@]}"
        } >"$dir/$1.yaml"
    }
    write_supply_manifest plain "" ""
    write_supply_manifest signed "signatures, attestations" "$dir/cosign.pub"
    for ((r = 1; r <= RUNS; r++)); do
        rm -rf "$dir/cache-plain" "$dir/cache-signed" "$dir"/*.lock
        secs=$(timed supply_lock_plain 0 "$WORK/supply-plain-$r.log" "$OUTPOST" lock "$dir/plain.yaml" --cache "$dir/cache-plain")
        log "run $r/$RUNS: lock $n images, no referrers ${secs}s"
        secs=$(timed supply_lock_signed 0 "$WORK/supply-signed-$r.log" "$OUTPOST" lock "$dir/signed.yaml" --cache "$dir/cache-signed")
        log "run $r/$RUNS: lock $n images, discovery + key verification ${secs}s"
    done
    SUPPLY_IMAGES=$n
}

# shellcheck shell=bash
# Sourced by scripts/bench.sh: the serve mode. `outpost serve` vs a fresh distribution
# instance and nginx (static files): start-up, manifest GETs (wrk), blob GETs (curl), peak RSS;
# and manifest GETs with the token flow and the audit log on (`serve --auth --audit-log`, a
# bearer token) vs off.
# The serve settings (ACCEPT_MANIFEST, BLOB_CLIENTS, SERVE_BUNDLE...) are set in bench.sh.

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

# bench_manifests FIGURE URL [HEADER]: wrk on one manifest URL (with one more request header,
# if given); records requests/s and errors.
bench_manifests() {
    local figure=$1 url=$2 logf=$WORK/wrk-$1-$RUN.log line extra=()
    [[ -n ${3:-} ]] && extra=(-H "$3")
    bounded wrk -t2 -c64 -d"${SERVE_SECONDS}s" -H "$ACCEPT_MANIFEST" "${extra[@]}" "$url" >"$logf" 2>&1 ||
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

# bench_token_flow: a second `outpost serve` of the same bundle with --auth (one bcrypt user
# allowed every repository) and --audit-log (one JSON line per request, batched fsync); a token from its /token endpoint, then wrk with
# `Authorization: Bearer` on the same manifest: serve_manifest_outpost_token.
bench_token_flow() {
    local addr pid token url
    addr=127.0.0.1:$(free_port)
    printf 'users:\n  - {name: bench, password: "%s"}\nrules:\n  - {who: [bench], allow: ["registry.test/*"]}\n' \
        "$(htpasswd -nbB -C 5 bench bench-pw | cut -d: -f2-)" >"$WORK/auth.yaml"
    RUST_LOG=warn "$OUTPOST" serve "$SERVE_BUNDLE" --key "$PUB" --listen "$addr" \
        --auth "$WORK/auth.yaml" --state-dir "$WORK/auth-state" --token-ttl 3600 \
        --audit-log "$WORK/audit.log" >"$WORK/outpost-auth.log" 2>&1 &
    pid=$!
    url=http://$addr/v2/registry.test/bench/app0/manifests/1
    local give_up=$((SECONDS + 60))
    until [[ $(curl -s -o /dev/null -w '%{http_code}' "http://$addr/healthz" || true) == 200 ]]; do
        kill -0 "$pid" 2>/dev/null || { tail -n 20 "$WORK/outpost-auth.log" >&2; die "outpost serve --auth exited"; }
        ((SECONDS < give_up)) || die "outpost serve --auth did not answer /healthz within 60 s"
        sleep 0.05
    done
    token=$(curl -sf -u bench:bench-pw \
        "http://$addr/token?service=$addr&scope=repository:registry.test/bench/app0:pull" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])') ||
        die "no token from http://$addr/token"
    [[ $(curl -s -o /dev/null -w '%{http_code}' -H "$ACCEPT_MANIFEST" "$url") == 401 ]] ||
        die "outpost serve --auth answered a manifest GET without a token"
    bench_manifests serve_manifest_outpost_token "$url" "Authorization: Bearer $token"
    stop_server "$pid"
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
    local order kib url
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
            url=${who^^}_MANIFEST_URL # OUTPOST_MANIFEST_URL or PEER_MANIFEST_URL
            bench_manifests "serve_manifest_$who" "${!url}"
        done
        bench_manifests serve_manifest_nginx "$NGINX_MANIFEST_URL"
        bench_token_flow
        for who in $order; do
            url=${who^^}_BLOB_URL # OUTPOST_BLOB_URL or PEER_BLOB_URL
            bench_blob "serve_blob_$who" "${!url}"
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

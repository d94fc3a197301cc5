# shellcheck shell=bash
# Sourced by scripts/bench.sh: the report. report() turns the samples (SAMPLES) into the table
# on stdout and the JSON at JSON_OUT.

# report: print the table and write BENCH_JSON from the samples and the settings.
report() {
    mkdir -p "$(dirname "$JSON_OUT")"
    BENCH_MODE=$MODE BENCH_RUNS=$RUNS BENCH_COUNT=$COUNT BENCH_BASE_MIB=$BASE_MIB \
        BENCH_LAYER_MIB=$LAYER_MIB BENCH_CORPUS_BYTES=$CORPUS_BYTES \
        BENCH_SERVE_SECONDS=$SERVE_SECONDS BENCH_SERVE_BUNDLE_BYTES=$SERVE_BUNDLE_BYTES \
        BENCH_SERVE_IMAGES=$SERVE_IMAGES BENCH_SERVE_FILLERS=$SERVE_FILLERS \
        BENCH_BLOB_BYTES=$BIG_BLOB_BYTES BENCH_BLOB_CLIENTS=$BLOB_CLIENTS \
        BENCH_SUPPLY_IMAGES=$SUPPLY_IMAGES BENCH_CHART_INDEX_BYTES=$CHART_INDEX_BYTES \
        BENCH_CHART_VERSIONS=$CHART_VERSIONS \
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

# outpost vs a peer, one row each when outpost's figure exists; ratio = outpost / peer
cold, ver = med("cold_build"), mbps("verify")
for figure, unit, ours, peer, peer_name, note, fig in (
    ("cold build (s)", "s", cold, med("skopeo_copy"), "skopeo copy (sequential, one OCI layout)",
     "outpost/skopeo time; < 1 = outpost faster", "cold_build"),
    ("warm rebuild (s)", "s", med("warm_build"), cold, "outpost cold build",
     "warm/cold time as %; lower is better", "warm_build"),
    ("resolve 8 node packages, amd64, warm indexes (s)", "s", med("resolve_lock"), med("apt_simulate"),
     "apt-get install --simulate (empty status)", "outpost/apt time; < 1 = outpost faster", "resolve_lock"),
    ("warm rebuild, bundle up to date (s)", "s", med("noop_build"), cold, "outpost cold build",
     "warm/cold time as %; lower is better", "noop_build"),
    ("verify (MB/s)", "MB/s", ver, mbps("sha256sum"), "sha256sum of the bundle",
     "outpost/sha256sum throughput; > 1 = outpost faster", "verify"),
):
    if ours is not None:
        row(figure, unit, ours, peer, peer_name, rel(ours, peer), note, rss_mib(fig))
if ver is not None:
    dgst = mbps("openssl_dgst")
    if dgst:
        row("verify vs openssl dgst (MB/s)", "MB/s", ver, dgst, "openssl dgst -sha256 of the bundle",
            ver / dgst, "outpost/openssl throughput; > 1 = outpost faster", None)
    if openssl_mbps:
        row("verify vs sha256 ceiling (MB/s)", "MB/s", ver, openssl_mbps, "openssl speed sha256 (1 core, in memory)",
            ver / openssl_mbps, "outpost/openssl throughput; > 1 = outpost faster", None)

signed, plain = med("supply_lock_signed"), med("supply_lock_plain")
if signed is not None:
    row(f"lock {env.get('BENCH_SUPPLY_IMAGES')} signed images, referrers + key verification (s)", "s", signed, plain,
        "outpost lock, referrers off", rel(signed, plain), "with/without time; goal <= 1.5",
        rss_mib("supply_lock_signed"))

chart_lock, chart_yaml = med("charts_lock"), med("charts_yaml_load")
if chart_lock is not None:
    size = int(env.get("BENCH_CHART_INDEX_BYTES") or 0) / 1e6
    row(f"lock a chart from a {size:.0f} MB index.yaml, {env.get('BENCH_CHART_VERSIONS')} versions (s)", "s",
        chart_lock, chart_yaml, "python3 PyYAML safe load of the index", rel(chart_lock, chart_yaml),
        "outpost lock/YAML load time; goal <= 2 s and <= 256 MiB", rss_mib("charts_lock"))

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
    ours, peer = extra_med("serve_manifest_outpost_token", "requests_per_s"), extra_med("serve_manifest_outpost", "requests_per_s")
    if ours:
        row("manifest GETs/s with the token flow and the audit log on (--auth, Bearer, --audit-log; wrk -t2 -c64)", "req/s", ours, peer,
            "outpost without --auth or --audit-log", rel(ours, peer), "on/off requests per second; goal >= 0.8", None)
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
    for who, name in (("outpost", "outpost"), ("peer", "distribution"), ("outpost_token", "outpost --auth")):
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
}

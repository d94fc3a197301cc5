# shellcheck shell=bash
# Sourced by scripts/bench.sh: the RPM resolution figure. run_rpm writes an rpm-md
# repository of BENCH_RPM_PACKAGES (default 32,000: a distribution's BaseOS+AppStream)
# with scripts/bench/rpm_corpus.py, serves it over loopback HTTP, and times, BENCH_RUNS
# times alternating, each with a cold cache:
#   (a) `outpost lock` of ~20 applications, a virtual provide and a file (the closure)
#   (b) dnf's own resolution of the same request: `dnf install --assumeno` into an empty
#       --installroot with a fresh cachedir (it downloads and parses the same metadata,
#       solves, prints the transaction and stops before downloading a package)
# with time and peak RSS, and checks that both select the same number of packages.

run_rpm() {
    local dir=$WORK/rpm r secs port wanted count=${BENCH_RPM_PACKAGES:-32000} ours theirs
    need dnf "install dnf (Debian package 'dnf'; scripts/test.sh does) for the rpm figure's peer"
    mkdir -p "$dir"
    wanted=$(bounded python3 "$REPO_ROOT/scripts/bench/rpm_corpus.py" "$dir/repo" --packages "$count") ||
        die "scripts/bench/rpm_corpus.py failed"
    port=$(free_port)
    python3 -m http.server "$port" --bind 127.0.0.1 --directory "$dir/repo" >/dev/null 2>&1 &
    SERVE_PID=$!
    wait_port "$port" || die "rpm repository server did not start"
    {
        echo "apiVersion: outpost/v1alpha1"
        echo "kind: Release"
        echo "metadata: {name: rpmbench, version: \"1\"}"
        echo "spec:"
        echo "  packages:"
        echo "    rpm:"
        echo "      - name: bench"
        echo "        baseurl: http://127.0.0.1:$port/"
        echo "        arch: [x86_64]"
        echo "        gpgcheck: false"
        echo "        repo_gpgcheck: false"
        # shellcheck disable=SC2086 # the request is a list of words
        echo "        packages: [$(printf "'%s', " $wanted | sed 's/, $//')]"
    } >"$dir/rpm.yaml"
    log "rpm: $count packages ($(du -sh "$dir/repo/repodata" | cut -f1) of metadata) on 127.0.0.1:$port"
    for ((r = 1; r <= RUNS; r++)); do
        rm -rf "$dir/cache" "$dir"/*.lock
        secs=$(timed rpm_outpost_lock 0 "$WORK/rpm-outpost-$r.log" "$OUTPOST" lock "$dir/rpm.yaml" --cache "$dir/cache")
        log "run $r/$RUNS: outpost lock ${secs}s"
        rm -rf "$dir/root" "$dir/dnfcache"
        mkdir -p "$dir/root"
        # shellcheck disable=SC2086 # the request is a list of words
        # dnf --assumeno exits 1 after printing the transaction: that is its success here.
        secs=$(timed rpm_dnf_resolve 0 "$WORK/rpm-dnf-$r.log" sh -c 'dnf "$@"; [ $? -le 1 ]' sh install --assumeno \
            --installroot "$dir/root" --releasever 1 --forcearch x86_64 \
            --setopt=reposdir=/dev/null --setopt=cachedir="$dir/dnfcache" \
            --setopt=install_weak_deps=False --repofrompath "b,http://127.0.0.1:$port/" \
            --repo b --setopt=b.gpgcheck=0 $wanted)
        log "run $r/$RUNS: dnf install --assumeno ${secs}s"
    done
    ours=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["rpms"]))' "$dir/rpm.lock")
    theirs=$(sed -n 's/^Install *\([0-9]*\) Package.*/\1/p' "$WORK/rpm-dnf-$RUNS.log")
    [[ $ours == "$theirs" ]] || die "outpost pinned $ours packages but dnf installs ${theirs:-?} (see $WORK/rpm-dnf-$RUNS.log)"
    log "both select $ours packages"
    stop_server "$SERVE_PID"
    SERVE_PID=""
    report_rpm
}

# The table: median time and peak RSS of each, and outpost's ratio to dnf (goal <= 0.5x time).
report_rpm() {
    python3 - "$SAMPLES" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    figure, secs, rss, _ = (line.rstrip("\n").split("\t") + ["", "", "", ""])[:4]
    if figure.startswith("rpm_"):
        rows.setdefault(figure, []).append((float(secs), int(rss) if rss else None))
def med(figure, i):
    values = [s[i] for s in rows.get(figure, []) if s[i] is not None]
    return statistics.median(values) if values else None
print(f"{'rpm resolution (cold cache)':<34} {'median s':>10} {'peak RSS MiB':>14}")
for figure, label in (("rpm_outpost_lock", "outpost lock"), ("rpm_dnf_resolve", "dnf install --assumeno")):
    t, m = med(figure, 0), med(figure, 1)
    print(f"{label:<34} {t:>10.2f} {m / 1024 if m else float('nan'):>14.1f}")
t1, t2 = med("rpm_outpost_lock", 0), med("rpm_dnf_resolve", 0)
m1, m2 = med("rpm_outpost_lock", 1), med("rpm_dnf_resolve", 1)
print(f"{'ratio outpost/dnf':<34} {t1 / t2:>10.2f}x {(m1 / m2) if m1 and m2 else float('nan'):>13.2f}x   (goal: time <= 0.5x)")
PY
}

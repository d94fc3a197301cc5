# shellcheck shell=bash
# Sourced by scripts/bench.sh: the chart figure. run_charts writes a chart repository index
# the size of the biggest public ones (scripts/gen_chart_index.py: BENCH_CHART_VERSIONS
# versions in all, default 18,000, about 28 MB) with one real chart in it
# (scripts/testcharts.py's web, whose dependency comes from a second small repository),
# serves both over loopback HTTP, and times `outpost lock` of that chart (`1.2.*`, image
# discovery off, cold cache) with its peak RSS, against python3's YAML load of the same
# index (PyYAML's libyaml loader when it has one): the cost of reading the index at all.

run_charts() {
    local dir=$WORK/charts r secs port versions=${BENCH_CHART_VERSIONS:-18000} digest index_bytes
    mkdir -p "$dir"
    python3 -c 'import yaml' 2>/dev/null ||
        die "the chart figure's peer is python3's PyYAML: install it (Debian package 'python3-yaml', or pip install pyyaml)"
    bounded python3 "$REPO_ROOT/scripts/testcharts.py" "$dir/upstream" >/dev/null || die "scripts/testcharts.py failed"
    mkdir -p "$dir/upstream/big"
    cp "$dir/upstream/stable/web-1.2.7.tgz" "$dir/upstream/big/"
    digest=$(sha256sum "$dir/upstream/big/web-1.2.7.tgz" | cut -d' ' -f1)
    bounded python3 "$REPO_ROOT/scripts/gen_chart_index.py" "$dir/upstream/big/index.yaml" \
        --charts 300 --versions $((versions / 300)) \
        --chart web --chart-version 1.2.7 --digest "$digest" --url web-1.2.7.tgz ||
        die "scripts/gen_chart_index.py failed"
    index_bytes=$(stat -c %s "$dir/upstream/big/index.yaml")
    port=$(free_port)
    python3 -m http.server "$port" --bind 127.0.0.1 --directory "$dir/upstream" >/dev/null 2>&1 &
    CHART_SERVER_PID=$!
    wait_port "$port" || die "chart repository server did not start"
    {
        echo "apiVersion: outpost/v1alpha1"
        echo "kind: Release"
        echo "metadata: {name: charts, version: \"1\"}"
        echo "spec:"
        echo "  platforms: [linux/amd64]"
        echo "  upstreams: {charts.test: \"http://127.0.0.1:$port\"}"
        echo "  charts:"
        echo "    - {repo: \"https://charts.test/big\", name: web, version: \"1.2.*\", images: {discover: false}}"
    } >"$dir/charts.yaml"
    log "charts: index.yaml of $((index_bytes / 1000000)) MB, ${versions} versions, on 127.0.0.1:$port"
    for ((r = 1; r <= RUNS; r++)); do
        rm -rf "$dir/cache" "$dir"/*.lock
        secs=$(timed charts_lock "$index_bytes" "$WORK/charts-lock-$r.log" "$OUTPOST" lock "$dir/charts.yaml" --cache "$dir/cache")
        log "run $r/$RUNS: lock a chart from the big index ${secs}s"
        secs=$(timed charts_yaml_load "$index_bytes" "$WORK/charts-yaml-$r.log" python3 -c '
import sys, yaml
loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
yaml.load(open(sys.argv[1], "rb"), Loader=loader)' "$dir/upstream/big/index.yaml")
        log "run $r/$RUNS: python3 yaml load of the same index ${secs}s"
    done
    grep -q '"version": "1.2.7"' "$dir/charts.lock" || die "the chart lock did not pin web 1.2.7"
    stop_server "$CHART_SERVER_PID"
    CHART_INDEX_BYTES=$index_bytes
    CHART_VERSIONS=$versions
}

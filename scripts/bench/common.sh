# shellcheck shell=bash
# Sourced by scripts/bench.sh: the helpers every mode uses. log/die/need, cleanup (the EXIT
# trap), the time budget (remaining, bounded), timing (now, elapsed, timed), free_port and
# stop_server. They read the settings and state bench.sh sets (WORK, DEADLINE, SAMPLES, *_PID...).

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
    printf 'bench: error: %s\n' "$*" >&2
    exit 1
}

need() {
    command -v "$1" >/dev/null 2>&1 || die "'$1' not found: $2"
}

cleanup() {
    local rc=$? pid
    for pid in "$SERVE_PID" "$PEER_PID" "$REGISTRY_PID" "$TARGET_PID" "$NGINX_PID"; do
        if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$WORK"
    # The scale mode's memory-limit cgroup, if it made one (empty once nothing runs in it).
    [[ -n ${SCALE_CG:-} ]] && rmdir "$SCALE_CG" 2>/dev/null
    exit "$rc"
}

remaining() {
    local left=$((DEADLINE - $(date +%s)))
    ((left > 0)) || die "time budget of ${BUDGET}s (BENCH_TIMEOUT) used up"
    echo "$left"
}
# bounded CMD...: run CMD, killed when the overall budget runs out.
bounded() {
    local left
    left=$(remaining)
    local rc=0
    timeout --foreground --kill-after=5 "$left" "$@" || rc=$?
    if ((rc == 124 || rc == 137)); then
        die "time budget of ${BUDGET}s (BENCH_TIMEOUT) ran out during: $*"
    fi
    return "$rc"
}

now() { date +%s.%N; }
elapsed() { python3 -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.6f}")' "$1" "$2"; }

# timed FIGURE BYTES LOG CMD...: run CMD (stdout+stderr to LOG), append one sample.
# Peak RSS is recorded when /usr/bin/time exists.
timed() {
    local figure=$1 bytes=$2 logf=$3
    shift 3
    local t0 t1 rss="" rc=0
    if [[ -n $TIME_BIN ]]; then
        t0=$(now)
        bounded "$TIME_BIN" -f %M -o "$WORK/rss" "$@" >"$logf" 2>&1 || rc=$?
        t1=$(now)
        rss=$(tail -n 1 "$WORK/rss" 2>/dev/null || true)
        [[ $rss =~ ^[0-9]+$ ]] || rss=""
    else
        t0=$(now)
        bounded "$@" >"$logf" 2>&1 || rc=$?
        t1=$(now)
    fi
    if ((rc != 0)); then
        echo "---- $logf" >&2
        tail -n 20 "$logf" >&2 || true
        die "'$figure' failed (exit $rc): $*"
    fi
    local secs
    secs=$(elapsed "$t0" "$t1")
    printf '%s\t%s\t%s\t%s\n' "$figure" "$secs" "$rss" "$bytes" >>"$SAMPLES"
    echo "$secs"
}

# wait_port PORT: until something listens on 127.0.0.1:PORT (10 s at most).
wait_port() {
    python3 - "$1" <<'PY'
import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PY
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# stop_server PID: SIGTERM, then SIGKILL after 10 s; reaps it.
stop_server() {
    local pid=$1 i
    [[ -n $pid ]] || return 0
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

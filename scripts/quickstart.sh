#!/usr/bin/env bash
# The main job end to end, offline: build outpost, generate a key, build a signed bundle from
# manifests/quickstart.yaml, verify it, and show what is inside.
#
# The images come from a loopback CNCF distribution registry that this script starts and
# seeds with images it builds itself (scripts/testimages.py), so nothing leaves the machine.
set -euo pipefail
cd "$(dirname "$0")/.."

MANIFEST=manifests/quickstart.yaml
PORT=$(sed -n 's#.*"http://127.0.0.1:\([0-9]*\)".*#\1#p' "$MANIFEST" | head -n1)
export OUTPOST_KEY_PASSWORD="${OUTPOST_KEY_PASSWORD:-quickstart}"
export OUTPOST_CACHE="${OUTPOST_CACHE:-$PWD/bundles/.cache}"

need=()
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v skopeo >/dev/null || need+=(skopeo)
command -v python3 >/dev/null || need+=(python3)
command -v curl >/dev/null || need+=(curl)
if [ "${#need[@]}" -gt 0 ]; then
  echo "== installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

echo "== building outpost (release)"
cargo build --release --locked -q
OUTPOST=$PWD/target/release/outpost

echo "== starting a loopback upstream registry on 127.0.0.1:$PORT"
WORK=$(mktemp -d)
cat > "$WORK/registry.yml" <<YAML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $WORK/registry}}
http: {addr: 127.0.0.1:$PORT}
YAML
docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REGISTRY_PID=$!
trap 'kill $REGISTRY_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$PORT/v2/" >/dev/null 2>&1 && break
  kill -0 "$REGISTRY_PID" 2>/dev/null || { echo "the registry did not start (port $PORT busy?):"; cat "$WORK/registry.log"; exit 1; }
  sleep 0.1
done

echo "== building and pushing the quick-start images"
python3 scripts/testimages.py "$WORK/layouts" --set quickstart | while read -r dir ref; do
  skopeo copy -q --all --preserve-digests --dest-tls-verify=false "oci:$dir" "docker://127.0.0.1:$PORT/$ref"
done

if [ ! -f keys/outpost.key ]; then
  echo "== generating a signing key in keys/ (password from OUTPOST_KEY_PASSWORD)"
  "$OUTPOST" key generate --out keys
fi

echo "== outpost bundle build $MANIFEST"
"$OUTPOST" bundle build "$MANIFEST" --key keys/outpost.key --out bundles

BUNDLE=bundles/quickstart-0.1.0.tar
echo "== outpost bundle verify $BUNDLE"
"$OUTPOST" bundle verify "$BUNDLE" --key keys/outpost.pub

echo "== outpost bundle inspect $BUNDLE"
"$OUTPOST" bundle inspect "$BUNDLE"

SERVE_PORT=$((PORT + 1))
echo "== outpost serve $BUNDLE (briefly, on 127.0.0.1:$SERVE_PORT) and pull through it with skopeo"
"$OUTPOST" serve "$BUNDLE" --key keys/outpost.pub --listen "127.0.0.1:$SERVE_PORT" 2>"$WORK/serve.log" &
SERVE_PID=$!
trap 'kill $REGISTRY_PID $SERVE_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$SERVE_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
# The upstream registry is no longer needed: everything now comes from the bundle.
kill "$REGISTRY_PID" 2>/dev/null || true
skopeo inspect --tls-verify=false "docker://127.0.0.1:$SERVE_PORT/registry.quickstart.test/library/alpha:1" | head -n 4
kill -TERM "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true

cat <<TXT

Done. The signed bundle is $PWD/$BUNDLE (lockfile: manifests/quickstart.lock).
Carry it and keys/outpost.pub to the site, then:
  outpost bundle verify $BUNDLE --key outpost.pub
  outpost serve $BUNDLE --key outpost.pub --tls auto --hostname <mirror name or IP>
  outpost config containerd --mirror https://<mirror>:5000 --ca <ca.crt path on nodes> --bundle $BUNDLE --key outpost.pub
TXT
